-- fund_read.sql: the rows the Go waterfall streams through, in funding order.
-- Inputs: fund_sorted. Output: the result set read by pipeline/fund.
SELECT seq, tenant_no, billed_idx, epoch_us(occurred_at) AS occurred_us, member_no, pool_no,
    credits_e4, blocks_e4, per_block_e4, frozen,
    f_allowance_e4, f_plan_e4, f_bank_e4, f_exceeding_e4, f_blocked_e4
FROM fund_sorted
ORDER BY seq;
