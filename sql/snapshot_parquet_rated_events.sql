-- snapshot_parquet_rated_events.sql: one tenant's accepted events as Parquet, for other
-- engines (analytics/parquet/rated_events/tenant_id={id}/part0.parquet, Hive-partitioned:
-- the tenant is in the path, not in the file). Written only when the tenant's rows changed;
-- one thread and a total order, so the same rows give the same bytes.
-- Inputs: the snapshot's view rated_events; {{tenant}} the tenant, {{file}} the file.
-- Outputs: {{file}} (no rows when the tenant has none left).
COPY (SELECT * EXCLUDE (tenant_id) FROM rated_events WHERE tenant_id = '{{tenant}}'
      ORDER BY billed_period_start, occurred_at, event_id)
TO '{{file}}' (FORMAT parquet, COMPRESSION zstd);
