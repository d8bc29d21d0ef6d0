-- final_periods_read.sql: which periods earlier runs finalized.
-- Inputs: final_periods. Output: tenant_id, period_start (YYYY-MM-DD).
SELECT tenant_id, strftime(period_start, '%Y-%m-%d') FROM final_periods;
