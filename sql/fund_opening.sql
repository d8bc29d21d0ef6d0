-- fund_opening.sql: where the waterfall of each recomputed tenant starts: the closing
-- balances of its final periods (BILLING.md section 5), keyed by the numbers of this run's
-- configuration.
-- Inputs: dirty, closing, closing_pools, closing_users, cfg_pools, cfg_members.
-- Output: kind ('bank', 'pool' or 'member'), tenant_no, the pool or member number (-1 for
-- the bank), the amount used (e4): bank used, allowance units used, credits funded.
SELECT 'bank' AS kind, d.tenant_no::BIGINT, -1::BIGINT, c.bank_used_e4
FROM dirty d JOIN closing c ON c.tenant_id = d.tenant_id
UNION ALL
SELECT 'pool', d.tenant_no, pl.pool_no, cp.used_e4
FROM dirty d
JOIN cfg_pools pl ON pl.tenant_id = d.tenant_id
JOIN closing_pools cp ON cp.tenant_id = d.tenant_id AND cp.pool = pl.pool
UNION ALL
-- past any cap: clamped into the waterfall's 64 bits (the cap is used up either way)
SELECT 'member', d.tenant_no, m.member_no, CAST(least(cu.funded_e4, 4000000000000000000) AS BIGINT)
FROM dirty d
JOIN cfg_members m ON m.tenant_id = d.tenant_id
JOIN closing_users cu ON cu.tenant_id = d.tenant_id AND cu.user_id = m.user_id;
