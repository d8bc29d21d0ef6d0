-- fund_sort.sql: the table the Go waterfall writes its results into.
-- Inputs: none. Output: funded, one row per non-frozen event funded, keyed by lid.
CREATE OR REPLACE TEMP TABLE funded (
    lid          BIGINT,
    rated_e4     BIGINT,
    allowance_e4 BIGINT,
    plan_e4      BIGINT,
    bank_e4      BIGINT,
    exceeding_e4 BIGINT,
    blocked_e4   BIGINT
);
