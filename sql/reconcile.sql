-- reconcile.sql: the reconciliation identities of BILLING.md section 2 for this run.
-- Inputs: lines, line_status, checked, fund_input, rated_events. Output: one row of counts,
-- each from its own source, so that the identities can fail: lines read must equal
-- accepted + quarantined + duplicates; no line may have two statuses; every accepted event
-- is billed or unbillable; for every period, rated credits must equal plan + bank +
-- exceeding + blocked (bad_periods counts the periods where they do not).
SELECT
    (SELECT count(*) FROM lines) AS lines_read,
    (SELECT count(*) - count(DISTINCT lid) FROM line_status) AS double_status,
    (SELECT count(*) FROM checked WHERE reject_reason IS NULL) AS accepted,
    (SELECT count(*) FROM line_status WHERE status = 'quarantined') AS quarantined,
    (SELECT count(*) FROM line_status WHERE status = 'duplicate') AS duplicates,
    (SELECT count(*) FROM fund_input WHERE billed_idx IS NULL) AS unbillable,
    (SELECT count(*) FROM fund_input WHERE NOT frozen) AS funded_new,
    (SELECT count(*) FROM checked WHERE frozen) AS accepted_frozen,
    (SELECT count(*) FROM rated_events) AS billed,
    (SELECT count(*) FROM (
        SELECT tenant_no, billed_idx
        FROM rated_events
        GROUP BY tenant_no, billed_idx
        HAVING sum(rated_e4) <> sum(plan_e4) + sum(bank_e4) + sum(exceeding_e4) + sum(blocked_e4)
    )) AS bad_periods,
    (SELECT count(*) FROM rated_events
        WHERE least(rated_e4, allowance_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4) < 0
           OR rated_e4 IS NULL) AS negative_splits;
