-- snapshot_tenants_changed.sql: the Parquet files to write after a delta: the tables and
-- tenants whose rows changed.
-- Inputs: snap_changed (snapshot_apply.sql). Output: tbl, tenant_id.
SELECT DISTINCT tbl, tenant_id FROM snap_changed
WHERE tbl IN ('rated_events', 'period_usage', 'invoices') AND tenant_id IS NOT NULL
ORDER BY tbl, tenant_id
