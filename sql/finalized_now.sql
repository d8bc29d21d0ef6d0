-- finalized_now.sql: what this run finalized and issued, for the manifest.
-- Inputs: periods, invoices; $1 run_seq. Output: kind, tenant_id, period_start, number.
SELECT 'period' AS kind, tenant_id, strftime(period_start, '%Y-%m-%d'), '' FROM periods WHERE finalized_run = $1
UNION ALL
SELECT 'invoice', tenant_id, strftime(period_start, '%Y-%m-%d'), invoice_number FROM invoices WHERE issued_run = $1
ORDER BY 1, 2, 3;
