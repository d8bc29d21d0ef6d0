-- render_history_rows.sql: the rows of usage/{tenant}/usage_history.csv, in order.
-- Inputs: history_report (render_tenants.sql). Output: tenant_id, then the file's columns.
SELECT * FROM history_report ORDER BY tenant_id, period_start
