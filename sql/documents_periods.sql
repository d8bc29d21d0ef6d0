-- documents_periods.sql: the reported periods of every tenant, for the tenant workbooks
-- (sheets Plan, Current period, History, Chart; pipeline/documents).
-- Inputs: period_calc, cfg_periods, cfg_tenants; $1 the run's clock (TIMESTAMPTZ).
-- Outputs (rows): tenant_id, period_start, period_end (YYYY-MM-DD, end exclusive), final,
-- is_current (the period containing $1, else the last reported one; else the first),
-- credits_plan, plan_used, bank_used, bank_remaining, exceeding_credits, blocked_credits,
-- allowance_units_used, credits_used (plan + bank + exceeding), rated_credits, events. Decimals are exact
-- text (CAST of DECIMAL), parsed with shopspring/decimal in Go: no float on the way.
-- Sorted by tenant_id, period_start.
WITH rep AS (
    SELECT pc.*, cp.start_at
    FROM period_calc pc
    JOIN cfg_periods cp ON cp.tenant_no = pc.tenant_no AND cp.period_idx = pc.period_idx
    WHERE pc.in_report
), cur AS (
    SELECT tenant_no,
        coalesce(max(period_idx) FILTER (WHERE start_at <= CAST($1 AS TIMESTAMPTZ)), min(period_idx)) AS idx
    FROM rep GROUP BY tenant_no
)
SELECT rep.tenant_id, strftime(rep.period_start, '%Y-%m-%d') AS period_start,
    strftime(rep.period_end, '%Y-%m-%d') AS period_end, rep.final,
    rep.period_idx = cur.idx AS is_current,
    CAST(rep.credits_plan AS VARCHAR), CAST(rep.plan_used AS VARCHAR), CAST(rep.bank_used AS VARCHAR),
    CAST(rep.bank_remaining AS VARCHAR), CAST(rep.exceeding_credits AS VARCHAR),
    CAST(rep.blocked_credits AS VARCHAR), CAST(rep.allowance_units_used AS VARCHAR),
    CAST(rep.plan_used + rep.bank_used + rep.exceeding_credits AS VARCHAR) AS credits_used,
    CAST(rep.rated_credits AS VARCHAR) AS rated_credits, rep.events
FROM rep JOIN cur ON cur.tenant_no = rep.tenant_no
ORDER BY rep.tenant_id, rep.period_start
