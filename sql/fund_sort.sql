-- fund_sort.sql: put the accepted events in funding order (BILLING.md section 3).
-- Inputs: fund_input. Output: fund_sorted, numbered by seq in the order
-- (tenant, billed period, occurred_at, event_id): late events come first in the period that
-- bills them. Events with no period left to bill them (billed_idx NULL) are left out here and
-- counted as unbillable.
CREATE OR REPLACE TEMP TABLE fund_sorted AS
SELECT row_number() OVER (ORDER BY tenant_no, billed_idx, occurred_at, event_id) - 1 AS seq, *
FROM fund_input
WHERE billed_idx IS NOT NULL;
CREATE OR REPLACE TEMP TABLE funded (
    seq          BIGINT,
    rated_e4     BIGINT,
    allowance_e4 BIGINT,
    plan_e4      BIGINT,
    bank_e4      BIGINT,
    exceeding_e4 BIGINT,
    blocked_e4   BIGINT
);
