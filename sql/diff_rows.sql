-- diff_rows.sql: every ledger column that changed between two runs, for `creditmeter diff`.
-- The state of a ledger row at run R is its latest version in period_log with run_seq <= R
-- (finalize.sql writes a version whenever a run changes the row). A row with no version at
-- the first run is new: its status and its columns that are not zero are listed.
-- Inputs: period_log; $1 the first run's number, $2 the second's ($1 <= $2), $3 a tenant_id
-- or '' for every tenant.
-- Output: one row per changed column, by tenant, period and column order: tenant_id,
-- period_start, period_end (YYYY-MM-DD, end exclusive, as the second run has it), new (no
-- version at $1), column name, from and to (text; NULL when absent), change (to - from, text,
-- NULL for text columns), and the numbers of the runs in ($1, $2] that wrote a version of the
-- row, space-separated.
WITH v AS (
    SELECT * FROM period_log
    WHERE run_seq <= $2::INTEGER AND ($3::VARCHAR = '' OR tenant_id = $3::VARCHAR)
), a AS (
    SELECT * FROM v WHERE run_seq <= $1::INTEGER
    QUALIFY row_number() OVER (PARTITION BY tenant_id, period_start ORDER BY run_seq DESC) = 1
), b AS (
    SELECT * FROM v
    QUALIFY row_number() OVER (PARTITION BY tenant_id, period_start ORDER BY run_seq DESC) = 1
), writers AS (
    SELECT tenant_id, period_start, string_agg(CAST(run_seq AS VARCHAR), ' ' ORDER BY run_seq) AS runs
    FROM v WHERE run_seq > $1::INTEGER
    GROUP BY tenant_id, period_start
), pairs AS (
    SELECT b.tenant_id, b.period_start, b.period_end, a.tenant_id IS NULL AS is_new, w.runs,
        a.period_end AS a_end, a.status AS a_status, a.credits_plan AS a_plan, a.plan_used AS a_plan_used,
        a.bank_used AS a_bank_used, a.bank_remaining AS a_bank_remaining,
        a.exceeding_credits AS a_exceeding, a.blocked_credits AS a_blocked,
        a.allowance_units_used AS a_allowance, CAST(a.events AS DECIMAL(38,4)) AS a_events,
        a.rated_credits AS a_rated,
        b.status AS b_status, b.credits_plan AS b_plan, b.plan_used AS b_plan_used,
        b.bank_used AS b_bank_used, b.bank_remaining AS b_bank_remaining,
        b.exceeding_credits AS b_exceeding, b.blocked_credits AS b_blocked,
        b.allowance_units_used AS b_allowance, CAST(b.events AS DECIMAL(38,4)) AS b_events,
        b.rated_credits AS b_rated
    FROM b
    JOIN writers w ON w.tenant_id = b.tenant_id AND w.period_start = b.period_start
    LEFT JOIN a ON a.tenant_id = b.tenant_id AND a.period_start = b.period_start
), cols AS (
    SELECT p.tenant_id, p.period_start, p.period_end, p.is_new, p.runs, c.ord, c.col, c.txt_a,
        c.txt_b, c.num_a, c.num_b
    FROM pairs p, LATERAL (VALUES
        (1, 'period_end', strftime(p.a_end, '%Y-%m-%d'), strftime(p.period_end, '%Y-%m-%d'), NULL::DECIMAL(38,4), NULL::DECIMAL(38,4)),
        (2, 'status', p.a_status, p.b_status, NULL, NULL),
        (3, 'credits_plan', NULL, NULL, p.a_plan, p.b_plan),
        (4, 'plan_used', NULL, NULL, p.a_plan_used, p.b_plan_used),
        (5, 'bank_used', NULL, NULL, p.a_bank_used, p.b_bank_used),
        (6, 'bank_remaining', NULL, NULL, p.a_bank_remaining, p.b_bank_remaining),
        (7, 'exceeding_credits', NULL, NULL, p.a_exceeding, p.b_exceeding),
        (8, 'blocked_credits', NULL, NULL, p.a_blocked, p.b_blocked),
        (9, 'allowance_units_used', NULL, NULL, p.a_allowance, p.b_allowance),
        (10, 'events', NULL, NULL, p.a_events, p.b_events),
        (11, 'rated_credits', NULL, NULL, p.a_rated, p.b_rated)
    ) AS c(ord, col, txt_a, txt_b, num_a, num_b)
)
SELECT tenant_id, strftime(period_start, '%Y-%m-%d'), strftime(period_end, '%Y-%m-%d'), is_new,
    col, coalesce(txt_a, CAST(num_a AS VARCHAR)), coalesce(txt_b, CAST(num_b AS VARCHAR)),
    CAST(num_b - coalesce(num_a, 0) AS VARCHAR), runs
FROM cols
WHERE (txt_a IS DISTINCT FROM txt_b OR num_a IS DISTINCT FROM num_b)
  AND (NOT is_new OR ord = 2 OR coalesce(num_b, 0) <> 0)
ORDER BY tenant_id, period_start, ord
