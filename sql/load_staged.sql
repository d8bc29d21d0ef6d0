-- load_staged.sql: point parse_src at the staged CSV and Parquet rows of the batch.
-- Inputs: stage_lines. Outputs: the temp view parse_src read by parse_lines.sql.
CREATE OR REPLACE TEMP VIEW parse_src AS SELECT key, line_no, fmt, raw, doc FROM stage_lines;
