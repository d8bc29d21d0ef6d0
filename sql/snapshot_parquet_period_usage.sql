-- snapshot_parquet_period_usage.sql: one tenant's periods as Parquet, for other engines
-- (analytics/parquet/period_usage/tenant_id={id}/part0.parquet, Hive-partitioned: the tenant
-- is in the path, not in the file). Written only when the tenant's rows changed; one thread
-- and a total order, so the same rows give the same bytes.
-- Inputs: the snapshot's view period_usage; {{tenant}} the tenant, {{file}} the file.
-- Outputs: {{file}} (no rows when the tenant has none left).
COPY (SELECT * EXCLUDE (tenant_id) FROM period_usage WHERE tenant_id = '{{tenant}}'
      ORDER BY period_start)
TO '{{file}}' (FORMAT parquet, COMPRESSION zstd);
