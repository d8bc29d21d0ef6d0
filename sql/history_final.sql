-- history_final.sql: the periods earlier runs finalized, per tenant in order.
-- Inputs: periods. Output: tenant_id, period_idx, period_start, period_end (YYYY-MM-DD,
-- end exclusive).
SELECT tenant_id, period_idx, strftime(period_start, '%Y-%m-%d'), strftime(period_end, '%Y-%m-%d')
FROM periods WHERE status = 'final'
ORDER BY tenant_id, period_idx
