-- fund_read.sql: the rows the Go waterfall streams through, in funding order (BILLING.md
-- section 3): per tenant, by billed period, then (occurred_at, event_id), so late events come
-- first in the period that bills them. Events with no open period left to bill them
-- (billed_idx NULL) are not funded and are counted as unbillable.
-- Inputs: fund_input. Output: the result set read by pipeline/fund.
SELECT coalesce(lid, -1), tenant_no, billed_idx, epoch_us(occurred_at) AS occurred_us, member_no, pool_no,
    credits_e4, blocks_e4, per_block_e4, frozen,
    f_allowance_e4, f_plan_e4, f_bank_e4, f_exceeding_e4, f_blocked_e4
FROM fund_input
WHERE billed_idx IS NOT NULL
ORDER BY tenant_no, billed_idx, occurred_at, event_id;
