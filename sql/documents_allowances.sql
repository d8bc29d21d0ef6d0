-- documents_allowances.sql: allowance units used per tenant and pool over the contract, for
-- the Plan sheet of the tenant workbooks (pipeline/documents): the final periods' closing
-- balances plus this run's open periods.
-- Inputs: closing_pools, rated_events, dirty, period_calc. Outputs (rows): tenant_id,
-- allowance_pool, units_used (exact text), sorted by tenant_id, allowance_pool. Go splits a
-- pool's use over the contract's named allowances in the order the contract lists them
-- (BILLING.md section 1).
WITH used AS (
    SELECT cp.tenant_id, cp.pool AS allowance_pool, cp.used_e4
    FROM closing_pools cp SEMI JOIN dirty d ON d.tenant_id = cp.tenant_id
    UNION ALL
    -- the periods this run finalizes are already in closing_pools
    SELECT re.tenant_id, re.allowance_pool, re.allowance_e4
    FROM rated_events re
    JOIN period_calc pc ON pc.tenant_no = re.tenant_no AND pc.period_idx = re.billed_idx AND NOT pc.finalizing
    WHERE re.allowance_pool IS NOT NULL
)
SELECT tenant_id, allowance_pool, CAST(e4sum(sum(used_e4)) AS VARCHAR) AS units_used
FROM used
GROUP BY tenant_id, allowance_pool
ORDER BY tenant_id, allowance_pool
