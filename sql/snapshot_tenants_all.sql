-- snapshot_tenants_all.sql: the Parquet files to write after a rebuild (or when the last
-- change's files were never recorded as published): every table and tenant with rows.
-- Inputs: the snapshot's views rated_events, period_usage, invoices. Output: tbl, tenant_id.
SELECT DISTINCT 'rated_events' AS tbl, tenant_id FROM rated_events
UNION SELECT DISTINCT 'period_usage', tenant_id FROM period_usage
UNION SELECT DISTINCT 'invoices', tenant_id FROM invoices
ORDER BY tbl, tenant_id
