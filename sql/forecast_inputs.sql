-- forecast_inputs.sql: what the forecast of each open period of the recomputed tenants reads
-- (pipeline/forecast; issue 11): the periods reported (at or before the one containing
-- --now) that are still open once this run ends.
-- Inputs: period_calc, cfg_periods, cfg_deposits, rated_events; $1 the run's clock.
-- Outputs (rows): tenant_id, period_start, period_end (YYYY-MM-DD, end exclusive), ended
-- (--now is at or past the period's end), credits_plan, bank_at_start (the bank balance at
-- the period's start), deposits_in_period (dated inside it), credits_used (plan + bank +
-- exceeding of every event billed in it), own_used (the same of its own events, late ones
-- left out), as_of (the latest occurred_at of its own events, RFC 3339 UTC; NULL without),
-- as_of_event (that event's id), plan_reached_at, available_reached_at (RFC 3339 UTC: the
-- occurred_at of the events whose running use, in funding order, first reached the credits
-- plan and the credits available, plan + bank at start + deposits inside (BILLING.md
-- section 6); NULL when it has not). Decimals as exact text. Sorted by tenant_id,
-- period_start.
WITH per AS (
    SELECT pc.tenant_no, pc.tenant_id, pc.period_idx, pc.period_start, pc.period_end,
        pc.final, pc.in_report, pc.credits_plan, pc.bank_used,
        pc.plan_used + pc.bank_used + pc.exceeding_credits AS used, cp.start_at, cp.end_at
    FROM period_calc pc
    JOIN cfg_periods cp ON cp.tenant_no = pc.tenant_no AND cp.period_idx = pc.period_idx
), lim AS (
    -- the bank at a period's start: deposits dated before it less the bank used by the
    -- periods before it (as notify_record.sql), never below 0
    SELECT per.*,
        greatest(coalesce((SELECT sum(d.credits) FROM cfg_deposits d
                           WHERE d.tenant_id = per.tenant_id AND d.deposit_at < per.start_at), 0)
            - coalesce(sum(per.bank_used) OVER (PARTITION BY per.tenant_no ORDER BY per.period_idx
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS bank_at_start,
        coalesce((SELECT sum(d.credits) FROM cfg_deposits d
                  WHERE d.tenant_id = per.tenant_id AND d.deposit_at >= per.start_at AND d.deposit_at < per.end_at), 0)
            AS deposits_in_period
    FROM per
), open AS (
    SELECT *, CAST(credits_plan + bank_at_start + deposits_in_period AS DECIMAL(38,4)) AS available
    FROM lim WHERE in_report AND NOT final
), own AS (
    SELECT re.tenant_no, re.billed_idx, sum(re.plan_e4 + re.bank_e4 + re.exceeding_e4) AS own_e4,
        max(re.occurred_at) AS as_of, arg_max(re.event_id, (re.occurred_at, re.event_id)) AS as_of_event
    FROM rated_events re
    SEMI JOIN open o ON o.tenant_no = re.tenant_no AND o.period_idx = re.billed_idx
    WHERE NOT re.late
    GROUP BY re.tenant_no, re.billed_idx
), reached AS (
    -- the running use is read only for the periods that reached an amount: few of them
    SELECT tenant_no, period_idx, CAST(credits_plan * 10000 AS HUGEINT) AS plan_e4,
        CAST(available * 10000 AS HUGEINT) AS avail_e4
    FROM open
    WHERE (credits_plan > 0 AND used >= credits_plan) OR (available > 0 AND used >= available)
), running AS (
    SELECT re.tenant_no, re.billed_idx, re.occurred_at, r.plan_e4, r.avail_e4,
        sum(re.plan_e4 + re.bank_e4 + re.exceeding_e4) OVER (PARTITION BY re.tenant_no, re.billed_idx
            ORDER BY re.occurred_at, re.event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS used_e4
    FROM rated_events re
    JOIN reached r ON r.tenant_no = re.tenant_no AND r.period_idx = re.billed_idx
), hit AS (
    SELECT tenant_no, billed_idx,
        min(CASE WHEN plan_e4 > 0 AND used_e4 >= plan_e4 THEN occurred_at END) AS plan_at,
        min(CASE WHEN avail_e4 > 0 AND used_e4 >= avail_e4 THEN occurred_at END) AS avail_at
    FROM running GROUP BY tenant_no, billed_idx
)
SELECT o.tenant_id, strftime(o.period_start, '%Y-%m-%d') AS period_start,
    strftime(o.period_end, '%Y-%m-%d') AS period_end, o.end_at <= CAST($1 AS TIMESTAMPTZ) AS ended,
    CAST(o.credits_plan AS VARCHAR) AS credits_plan,
    CAST(CAST(o.bank_at_start AS DECIMAL(38,4)) AS VARCHAR) AS bank_at_start,
    CAST(CAST(o.deposits_in_period AS DECIMAL(38,4)) AS VARCHAR) AS deposits_in_period,
    CAST(o.used AS VARCHAR) AS credits_used, CAST(e4sum(coalesce(w.own_e4, 0)) AS VARCHAR) AS own_used,
    rfc3339(w.as_of) AS as_of, w.as_of_event, rfc3339(h.plan_at) AS plan_reached_at,
    rfc3339(h.avail_at) AS available_reached_at
FROM open o
LEFT JOIN own w ON w.tenant_no = o.tenant_no AND w.billed_idx = o.period_idx
LEFT JOIN hit h ON h.tenant_no = o.tenant_no AND h.billed_idx = o.period_idx
ORDER BY o.tenant_id, o.period_start
