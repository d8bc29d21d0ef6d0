-- snapshot_query_kind.sql: whether the database `creditmeter query` opened is an analysts'
-- snapshot (it has meta.snapshot, snapshot_build.sql), whose Parquet files it may read.
-- Inputs: the catalog. Output: one boolean.
SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = 'meta' AND table_name = 'snapshot'
