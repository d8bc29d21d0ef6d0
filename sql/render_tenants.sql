-- render_tenants.sql: the per-tenant outputs of the recomputed tenants: their period table
-- and the event-level usage reports of their open periods and of the periods this run
-- finalizes (a final period's report is written once, FORMATS.md).
-- Inputs: periods, dirty, usage_rows; {{out}} the outbox directory.
-- Outputs: files under {{out}}/_parts (history, usage, restricted), partitioned by tenant
-- and period, which pipeline/publish renames to their FORMATS.md names.
COPY (
    SELECT p.tenant_id, strftime(p.period_start, '%Y-%m-%d') AS period_start,
        strftime(p.period_end, '%Y-%m-%d') AS period_end, p.status,
        fmt_dec(p.credits_plan) AS credits_plan, fmt_dec(p.plan_used) AS credits_used,
        fmt_dec(p.bank_used) AS credits_bank_used, fmt_dec(p.bank_remaining) AS credits_bank_remaining,
        fmt_dec(p.exceeding_credits) AS exceeding_credits, fmt_dec(p.blocked_credits) AS blocked_credits
    FROM periods p SEMI JOIN dirty d ON d.tenant_id = p.tenant_id
    ORDER BY p.tenant_id, p.period_start
) TO '{{out}}/_parts/history' (FORMAT csv, HEADER, PARTITION_BY (tenant_id), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

-- the rows of the usage reports: not free features, not previews; text cells neutralised
CREATE OR REPLACE TEMP TABLE usage_report AS
SELECT tenant_id, strftime(billed_period_start, '%Y-%m-%d') AS period_start,
    rfc3339(occurred_at) AS datetime, cell(event_type) AS event_type, cell(user_id) AS user_id,
    cell(domain_name) AS domain_name, fmt_dec(event_value) AS event_value, cell(event_unit) AS event_unit,
    fmt_dec(e4(rated_e4)) AS consumed_credits, cell(username) AS username,
    cell(first_name) AS first_name, cell(last_name) AS last_name
FROM usage_rows
WHERE reason IS DISTINCT FROM 'free_feature' AND reason IS DISTINCT FROM 'preview'
ORDER BY tenant_id, billed_period_start, occurred_at, event_id;

COPY (
    SELECT tenant_id, period_start, datetime, event_type, user_id, domain_name, event_value,
        event_unit, consumed_credits
    FROM usage_report
) TO '{{out}}/_parts/usage' (FORMAT csv, HEADER, PARTITION_BY (tenant_id, period_start), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (
    SELECT * FROM usage_report
) TO '{{out}}/_parts/restricted' (FORMAT csv, HEADER, PARTITION_BY (tenant_id, period_start), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);
DROP TABLE usage_report;
