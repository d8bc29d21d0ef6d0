-- aggregate.sql: per-event results and per-period sums of the tenants this run recomputes
-- (BILLING.md sections 3, 4 and 7).
-- Inputs: checked, funded, dirty, cfg_periods, cfg_tenants, cfg_deposits, periods, closing,
-- user_directory, pending.
-- Outputs (temp tables):
--   rated_events: one row per accepted event of the recomputed tenants (billed in an open
--                 period, or in one this run finalizes), with its split across buckets;
--   period_calc:  one row per period of the recomputed tenants: this run's numbers for open
--                 periods, the stored ones for periods that were final when the run began;
--   users_current: the user directory as it stands;
--   usage_rows:   the event-level rows of their periods, with display fields.
CREATE OR REPLACE TEMP TABLE rated_events AS
SELECT c.line_id, c.tenant_no, c.tenant_id, c.event_id, c.user_id, c.event_type, c.occurred_at,
    p.period_idx AS billed_idx, p.period_start AS billed_period_start, p.period_end AS billed_period_end,
    c.late, c.natural_idx, c.rate_card_version, c.rate_reason AS reason, c.allowance_pool,
    f.rated_e4, f.allowance_e4, f.plan_e4, f.bank_e4, f.exceeding_e4, f.blocked_e4
FROM checked c
JOIN funded f ON f.line_id = c.line_id
JOIN cfg_periods p ON p.tenant_no = c.tenant_no AND p.period_idx = c.billed_idx;

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
        -- bank used up to the period's end: the final periods' closing balance, then the open ones
        coalesce(cl.bank_used_e4, 0)
            + sum(coalesce(s.bank_e4, 0)) OVER (PARTITION BY p.tenant_no ORDER BY p.period_idx) AS bank_used_cum_e4,
        (SELECT coalesce(sum(d.credits), 0) FROM cfg_deposits d
          WHERE d.tenant_id = p.tenant_id AND d.deposit_at < p.end_at) AS deposits_before_end
    FROM cfg_periods p
    SEMI JOIN dirty dt ON dt.tenant_no = p.tenant_no
    JOIN cfg_tenants t ON t.tenant_no = p.tenant_no
    LEFT JOIN closing cl ON cl.tenant_id = p.tenant_id
    LEFT JOIN sums s ON s.tenant_no = p.tenant_no AND s.billed_idx = p.period_idx
)
SELECT per.tenant_no, per.tenant_id, per.period_idx, per.period_start, per.period_end,
    per.was_final, per.finalize OR per.was_final AS final, per.finalize AND NOT per.was_final AS finalizing,
    per.in_report OR per.events > 0 OR fp.tenant_id IS NOT NULL AS in_report,
    CAST(coalesce(fp.credits_plan, per.credits_plan) AS DECIMAL(38,4)) AS credits_plan,
    coalesce(fp.plan_used, e4sum(per.plan_e4)) AS plan_used,
    coalesce(fp.bank_used, e4sum(per.bank_e4)) AS bank_used,
    coalesce(fp.bank_remaining, greatest(per.deposits_before_end - e4sum(per.bank_used_cum_e4), 0)) AS bank_remaining,
    coalesce(fp.exceeding_credits, e4sum(per.exceeding_e4)) AS exceeding_credits,
    coalesce(fp.blocked_credits, e4sum(per.blocked_e4)) AS blocked_credits,
    coalesce(fp.allowance_units_used, e4sum(per.allowance_e4)) AS allowance_units_used,
    coalesce(fp.events, per.events) AS events,
    coalesce(fp.rated_credits, e4sum(per.rated_e4)) AS rated_credits
FROM per
LEFT JOIN periods fp ON fp.tenant_id = per.tenant_id AND fp.period_start = per.period_start
    AND per.was_final AND fp.status = 'final';

-- The user directory as it stands: the last object by key wins per user.
CREATE OR REPLACE TEMP TABLE users_current AS
SELECT user_id, arg_max(username, key) AS username, arg_max(first_name, key) AS first_name,
    arg_max(last_name, key) AS last_name
FROM user_directory GROUP BY user_id;

-- The event-level rows of the recomputed tenants' periods (usage reports, the workbook's
-- Events sheet), taken now: finalize.sql moves finalized events out of pending.
CREATE OR REPLACE TEMP TABLE usage_rows AS
SELECT re.tenant_id, re.billed_period_start, re.occurred_at, re.event_id, re.event_type,
    re.user_id, p.domain_name, p.event_value, p.event_unit, re.reason, re.late,
    re.rated_e4, re.plan_e4, re.bank_e4, re.exceeding_e4, re.blocked_e4,
    coalesce(p.username, u.username) AS username, coalesce(p.first_name, u.first_name) AS first_name,
    coalesce(p.last_name, u.last_name) AS last_name
FROM rated_events re
JOIN pending p ON p.line_id = re.line_id
LEFT JOIN users_current u ON u.user_id = re.user_id;
