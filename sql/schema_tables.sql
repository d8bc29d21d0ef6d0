-- schema_tables.sql: what an existing warehouse holds, before schema.sql runs.
-- Inputs: the catalog. Output: one row: has_meta (the version table of schema 2 and later),
-- has_v1 (the table final_periods, which only version 1 had).
SELECT
    (SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'meta') AS has_meta,
    (SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'final_periods') AS has_v1;
