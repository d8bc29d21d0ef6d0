-- stage_parquet.sql: turn the rows of one Parquet object into lines.
-- Inputs: $1 the parquet file, $2 its object key.
-- Output: rows appended to stage_lines; doc is the row as a JSON object (it carries the
-- reader's file_row_number, which parsing ignores), line_no the row number from 1.
INSERT INTO stage_lines
SELECT $2::VARCHAR, file_row_number + 1, 'parquet', to_json(p)::VARCHAR, to_json(p)::VARCHAR
FROM read_parquet($1, file_row_number = true) p;
