-- aggregate.sql: per-event results and per-period sums (BILLING.md sections 3, 4, 7).
-- Inputs: fund_input, funded, lines, cfg_periods, cfg_tenants, cfg_deposits, final_periods,
-- user_directory.
-- Outputs (temp tables):
--   rated_events: one row per billed event with its split across buckets;
--   period_calc:  one row per tenant period with this run's numbers, or the frozen ones for
--                 periods that were final when the run began;
--   users_current: the user directory as it stands.
CREATE OR REPLACE TEMP TABLE rated_events AS
SELECT s.lid, s.tenant_no, s.tenant_id, s.event_id, s.user_id, s.occurred_at,
    p.period_idx AS billed_idx, p.period_start AS billed_period_start, p.period_end AS billed_period_end,
    s.late, s.rate_card_version, s.reason, s.allowance_pool, s.frozen,
    CASE WHEN s.frozen THEN s.credits_e4 ELSE f.rated_e4 END AS rated_e4,
    CASE WHEN s.frozen THEN s.f_allowance_e4 ELSE f.allowance_e4 END AS allowance_e4,
    CASE WHEN s.frozen THEN s.f_plan_e4 ELSE f.plan_e4 END AS plan_e4,
    CASE WHEN s.frozen THEN s.f_bank_e4 ELSE f.bank_e4 END AS bank_e4,
    CASE WHEN s.frozen THEN s.f_exceeding_e4 ELSE f.exceeding_e4 END AS exceeding_e4,
    CASE WHEN s.frozen THEN s.f_blocked_e4 ELSE f.blocked_e4 END AS blocked_e4
FROM fund_input s
LEFT JOIN funded f ON f.lid = s.lid  -- frozen events are never in funded
JOIN cfg_periods p ON p.tenant_no = s.tenant_no AND p.period_idx = s.billed_idx;

CREATE OR REPLACE TEMP TABLE period_calc AS
WITH sums AS (
    SELECT tenant_no, billed_idx,
        sum(rated_e4) AS rated_e4, sum(allowance_e4) AS allowance_e4, sum(plan_e4) AS plan_e4,
        sum(bank_e4) AS bank_e4, sum(exceeding_e4) AS exceeding_e4, sum(blocked_e4) AS blocked_e4,
        count(*) AS events
    FROM rated_events GROUP BY tenant_no, billed_idx
), per AS (
    SELECT p.tenant_no, p.tenant_id, p.period_idx, p.period_start, p.period_end, p.end_at,
        p.was_final, p.finalize, p.in_report, t.credits_plan,
        coalesce(s.rated_e4, 0) AS rated_e4, coalesce(s.allowance_e4, 0) AS allowance_e4,
        coalesce(s.plan_e4, 0) AS plan_e4, coalesce(s.bank_e4, 0) AS bank_e4,
        coalesce(s.exceeding_e4, 0) AS exceeding_e4, coalesce(s.blocked_e4, 0) AS blocked_e4,
        coalesce(s.events, 0) AS events,
        sum(coalesce(s.bank_e4, 0)) OVER (PARTITION BY p.tenant_no ORDER BY p.period_idx) AS bank_used_cum_e4,
        (SELECT coalesce(sum(d.credits), 0) FROM cfg_deposits d
          WHERE d.tenant_id = p.tenant_id AND d.deposit_at < p.end_at) AS deposits_before_end
    FROM cfg_periods p
    JOIN cfg_tenants t ON t.tenant_no = p.tenant_no
    LEFT JOIN sums s ON s.tenant_no = p.tenant_no AND s.billed_idx = p.period_idx
)
SELECT per.tenant_no, per.tenant_id, per.period_idx, per.period_start, per.period_end,
    per.was_final, per.finalize OR per.was_final AS final, per.finalize AND NOT per.was_final AS finalizing,
    per.in_report OR per.events > 0 OR fp.tenant_id IS NOT NULL AS in_report,
    coalesce(fp.credits_plan, per.credits_plan) AS credits_plan,
    coalesce(fp.plan_used, e4(per.plan_e4)) AS plan_used,
    coalesce(fp.bank_used, e4(per.bank_e4)) AS bank_used,
    coalesce(fp.bank_remaining, greatest(per.deposits_before_end - e4(per.bank_used_cum_e4), 0)) AS bank_remaining,
    coalesce(fp.exceeding_credits, e4(per.exceeding_e4)) AS exceeding_credits,
    coalesce(fp.blocked_credits, e4(per.blocked_e4)) AS blocked_credits,
    coalesce(fp.allowance_units_used, e4(per.allowance_e4)) AS allowance_units_used,
    coalesce(fp.events, per.events) AS events,
    e4(per.rated_e4) AS rated_credits
FROM per
LEFT JOIN final_periods fp ON fp.tenant_id = per.tenant_id AND fp.period_start = per.period_start AND per.was_final;

-- The user directory as it stands: the last object by key wins per user.
CREATE OR REPLACE TEMP TABLE users_current AS
SELECT user_id, arg_max(username, key) AS username, arg_max(first_name, key) AS first_name,
    arg_max(last_name, key) AS last_name
FROM user_directory GROUP BY user_id;
