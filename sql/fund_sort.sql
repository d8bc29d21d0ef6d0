-- fund_sort.sql: the table the Go waterfall writes its results into.
-- Inputs: none. Output: funded, one row per event funded by this run, keyed by line_id.
CREATE OR REPLACE TEMP TABLE funded (
    line_id      BIGINT,
    rated_e4     BIGINT,
    allowance_e4 BIGINT,
    plan_e4      BIGINT,
    bank_e4      BIGINT,
    exceeding_e4 BIGINT,
    blocked_e4   BIGINT
);
