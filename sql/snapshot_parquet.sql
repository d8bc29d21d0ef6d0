-- snapshot_parquet.sql: export the ledger tables of the analysts' snapshot as Parquet,
-- partitioned by tenant, for other engines (analytics/parquet/).
-- Runs on the snapshot database built by snapshot_build.sql.
-- Inputs: rated_events, period_usage, invoices; {{out}} is analytics/parquet.
-- Outputs: {{out}}/{rated_events,period_usage,invoices}/tenant_id={id}/part0.parquet (more parts, part1, ..., for big tenants).
COPY (SELECT * FROM rated_events ORDER BY tenant_id, billed_period_start, occurred_at, event_id)
TO '{{out}}/rated_events' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (tenant_id), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (SELECT * FROM period_usage ORDER BY tenant_id, period_start)
TO '{{out}}/period_usage' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (tenant_id), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (SELECT * FROM invoices ORDER BY year, seq)
TO '{{out}}/invoices' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (tenant_id), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);
