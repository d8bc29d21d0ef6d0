-- fund_read.sql: the accepted events of the tenants this run recomputes, in funding order
-- (BILLING.md section 3): per tenant, by billed period, then (occurred_at, event_id), so late
-- events come first in the period that bills them. Final periods are not read: the
-- waterfall starts from their closing balances (fund_opening.sql).
-- Inputs: checked, dirty, cfg_periods, cfg_members, cfg_pools. Output: the result set read by
-- pipeline/fund, every column a BIGINT: line_id, tenant_no, billed_idx, occurred_at and
-- bank_at (Unix µs; bank_at is the start of the billing period for a late event: the
-- deposits it sees), member_no, pool_no (-1 when none), credits_e4, blocks_e4,
-- per_block_e4.
SELECT c.line_id, c.tenant_no::BIGINT, c.billed_idx::BIGINT, epoch_us(c.occurred_at)::BIGINT,
    epoch_us(CASE WHEN c.late THEN p.start_at ELSE c.occurred_at END)::BIGINT,
    coalesce(m.member_no, -1)::BIGINT,
    coalesce(CASE WHEN c.kind = 'per_unit' AND NOT c.preview THEN pl.pool_no END, -1)::BIGINT,
    c.credits_e4, c.blocks_e4, c.per_block_e4
FROM checked c
SEMI JOIN dirty d ON d.tenant_no = c.tenant_no
JOIN cfg_periods p ON p.tenant_no = c.tenant_no AND p.period_idx = c.billed_idx
LEFT JOIN cfg_members m ON m.tenant_id = c.tenant_id AND m.user_id = c.user_id
LEFT JOIN cfg_pools pl ON pl.tenant_id = c.tenant_id AND pl.pool = c.allowance_pool
WHERE c.reject_reason IS NULL
ORDER BY c.tenant_no, c.billed_idx, c.occurred_at, c.event_id;
