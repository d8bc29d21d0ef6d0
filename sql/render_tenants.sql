-- render_tenants.sql: the rows of the per-tenant outputs of the recomputed tenants, for
-- pipeline/publish to write as files: their period tables, and the event-level usage reports
-- of their open periods and of the periods this run finalizes (a final period's report is
-- written once, FORMATS.md). DuckDB's partitioned COPY does not keep the rows of a partition
-- in order, so Go writes the files from these sorted tables.
-- Inputs: periods, dirty, usage_rows.
-- Outputs (temp): history_report (tenant_id, then the columns of usage_history.csv) and
-- usage_report (tenant_id, period_start, sort_at, sort_id, then the columns of the
-- restricted usage report; the usage report is its first seven); text cells neutralised.
CREATE OR REPLACE TEMP TABLE history_report AS
SELECT p.tenant_id, strftime(p.period_start, '%Y-%m-%d') AS period_start,
    strftime(p.period_end, '%Y-%m-%d') AS period_end, p.status,
    fmt_dec(p.credits_plan) AS credits_plan, fmt_dec(p.plan_used) AS credits_used,
    fmt_dec(p.bank_used) AS credits_bank_used, fmt_dec(p.bank_remaining) AS credits_bank_remaining,
    fmt_dec(p.exceeding_credits) AS exceeding_credits, fmt_dec(p.blocked_credits) AS blocked_credits
FROM periods p SEMI JOIN dirty d ON d.tenant_id = p.tenant_id
ORDER BY p.tenant_id, p.period_start;

-- the rows of the usage reports: not free features, not previews
CREATE OR REPLACE TEMP TABLE usage_report AS
SELECT tenant_id, strftime(billed_period_start, '%Y-%m-%d') AS period_start,
    occurred_at AS sort_at, event_id AS sort_id,
    rfc3339(occurred_at) AS datetime, cell(event_type) AS event_type, cell(user_id) AS user_id,
    cell(domain_name) AS domain_name, fmt_dec(event_value) AS event_value, cell(event_unit) AS event_unit,
    fmt_dec(e4(rated_e4)) AS consumed_credits, cell(username) AS username,
    cell(first_name) AS first_name, cell(last_name) AS last_name
FROM usage_rows
WHERE reason IS DISTINCT FROM 'free_feature' AND reason IS DISTINCT FROM 'preview';
