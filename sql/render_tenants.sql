-- render_tenants.sql: the rows of the per-tenant outputs of the recomputed tenants, for
-- pipeline/publish to write as files: their period tables, and the event-level usage reports
-- of their open periods and of the periods this run finalizes (a final period's report is
-- written once, FORMATS.md). DuckDB's partitioned COPY does not keep the rows of a partition
-- in order, so Go writes the files from these sorted tables.
-- Inputs: periods, dirty, usage_rows, rated_events.
-- Outputs (temp): history_report (tenant_id, then the columns of usage_history.csv) and
-- usage_report (tenant_id, period_start, sort_at, sort_id, then the columns of the
-- restricted usage report: the usage report's first seven, username, first_name,
-- last_name, then the three the usage report appends: blocked_credits, allowance_units,
-- late); text cells neutralised.
CREATE OR REPLACE TEMP TABLE history_report AS
SELECT p.tenant_id, strftime(p.period_start, '%Y-%m-%d') AS period_start,
    strftime(p.period_end, '%Y-%m-%d') AS period_end, p.status,
    fmt_dec(p.credits_plan) AS credits_plan, fmt_dec(p.plan_used) AS credits_used,
    fmt_dec(p.bank_used) AS credits_bank_used, fmt_dec(p.bank_remaining) AS credits_bank_remaining,
    fmt_dec(p.exceeding_credits) AS exceeding_credits, fmt_dec(p.blocked_credits) AS blocked_credits
FROM periods p SEMI JOIN dirty d ON d.tenant_id = p.tenant_id
ORDER BY p.tenant_id, p.period_start;

-- the rows of the usage reports: not free features, not previews. consumed_credits is what
-- the event charged to the customer's balance (plan + bank + exceeding), so that a report
-- sums to the period's credits used; blocked credits (a hard stop, a member cap) are in
-- blocked_credits, allowance-covered units in allowance_units (issue 12). allowance_units
-- comes from rated_events (usage_rows does not carry it), joined by the event's identity.
CREATE OR REPLACE TEMP TABLE usage_report AS
SELECT u.tenant_id, strftime(u.billed_period_start, '%Y-%m-%d') AS period_start,
    u.occurred_at AS sort_at, u.event_id AS sort_id,
    rfc3339(u.occurred_at) AS datetime, cell(u.event_type) AS event_type, cell(u.user_id) AS user_id,
    cell(u.domain_name) AS domain_name, fmt_dec(u.event_value) AS event_value, cell(u.event_unit) AS event_unit,
    fmt_dec(e4(u.plan_e4 + u.bank_e4 + u.exceeding_e4)) AS consumed_credits, cell(u.username) AS username,
    cell(u.first_name) AS first_name, cell(u.last_name) AS last_name,
    fmt_dec(e4(u.blocked_e4)) AS blocked_credits, fmt_dec(e4(re.allowance_e4)) AS allowance_units,
    CASE WHEN u.late THEN 'true' ELSE 'false' END AS late
FROM usage_rows u
JOIN rated_events re ON re.tenant_id = u.tenant_id AND re.event_id = u.event_id
WHERE u.reason IS DISTINCT FROM 'free_feature' AND u.reason IS DISTINCT FROM 'preview';
