-- load_parquet.sql: the rows of a staged Parquet object, every column as DuckDB reads it;
-- pipeline/load, on its scratch database, turns each value into the text a CSV cell would hold and parses it like a
-- CSV row (pipeline/parse).
-- Inputs: $1 the staged file. Output: every row, in file order.
SELECT * FROM read_parquet($1::VARCHAR)
