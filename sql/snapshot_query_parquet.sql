-- snapshot_query_parquet.sql: let `creditmeter query` on the analysts' snapshot read the
-- snapshot's own Parquet files (analytics/parquet/ beside analytics/warehouse.duckdb) and
-- nothing else: run before snapshot_query_guard.sql, which then turns every other file
-- access off (allowed_directories stays allowed, a path leaving it with .. does not).
-- Inputs: {{dir}} the Parquet directory, absolute, with a trailing separator.
-- Outputs: none (the connection's settings).
SET allowed_directories = ['{{dir}}'];
