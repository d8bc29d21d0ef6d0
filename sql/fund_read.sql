-- fund_read.sql: the rows the Go waterfall streams through, in funding order (BILLING.md
-- section 3): per tenant, by billed period, then (occurred_at, event_id), so late events come
-- first in the period that bills them. Events with no open period left to bill them
-- (billed_idx NULL) are not funded and are counted as unbillable.
-- Inputs: fund_input. Output: the result set read by pipeline/fund; every column is a
-- BIGINT (frozen 0 or 1), so that the reader needs no per-value type switch.
SELECT coalesce(lid, -1)::BIGINT, tenant_no::BIGINT, billed_idx::BIGINT,
    epoch_us(occurred_at)::BIGINT, member_no::BIGINT, pool_no::BIGINT,
    credits_e4::BIGINT, blocks_e4::BIGINT, per_block_e4::BIGINT, frozen::BIGINT,
    f_allowance_e4::BIGINT, f_plan_e4::BIGINT, f_bank_e4::BIGINT, f_exceeding_e4::BIGINT,
    f_blocked_e4::BIGINT
FROM fund_input
WHERE billed_idx IS NOT NULL
ORDER BY tenant_no, billed_idx, occurred_at, event_id;
