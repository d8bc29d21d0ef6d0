-- render_usage_rows.sql: the rows of the usage reports, in report order (FORMATS.md:
-- datetime, event_id), grouped by tenant and period.
-- Inputs: usage_report (render_tenants.sql). Output: tenant_id, period_start, then the
-- restricted report's columns (jobs/compute.go picks each report's columns from them).
SELECT * EXCLUDE (sort_at, sort_id) FROM usage_report ORDER BY tenant_id, period_start, sort_at, sort_id
