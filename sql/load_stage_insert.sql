-- load_stage_insert.sql: append a parsed Arrow record batch to the batch's staging table.
-- Inputs: the view arrow_batch (pipeline/parse.Schema). Outputs: rows of stage_lines.
INSERT INTO stage_lines SELECT * FROM arrow_batch;
