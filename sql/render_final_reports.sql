-- render_final_reports.sql: the periods this run finalized, whose usage reports are final.
-- Inputs: periods; $1 run_seq. Output: tenant_id, period_start (YYYY-MM-DD).
SELECT tenant_id, strftime(period_start, '%Y-%m-%d') FROM periods WHERE finalized_run = $1
