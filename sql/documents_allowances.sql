-- documents_allowances.sql: allowance units used per tenant and pool over the contract, for
-- the Plan sheet of the tenant workbooks (pipeline/documents).
-- Inputs: rated_events. Outputs (rows): tenant_id, allowance_pool, units_used (exact text),
-- sorted by tenant_id, allowance_pool. Go splits a pool's use over the contract's named
-- allowances in the order the contract lists them (BILLING.md section 1).
SELECT tenant_id, allowance_pool, CAST(e4(sum(allowance_e4)) AS VARCHAR) AS units_used
FROM rated_events
WHERE allowance_pool IS NOT NULL
GROUP BY tenant_id, allowance_pool
ORDER BY tenant_id, allowance_pool
