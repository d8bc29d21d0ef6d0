-- publish.sql: write the run's outputs into a staging directory (FORMATS.md, "Outputs").
-- Inputs: period_calc, rated_events, lines, line_status, users_current, invoices,
-- cfg_tenants; {{out}} is the staging directory, {{run_id}} the run id.
-- Outputs: files under {{out}}; per-tenant files are written partitioned under
-- {{out}}/_parts and renamed into place by pipeline/publish. The invoice documents and the
-- tenant workbooks are pipeline/documents' (sql/documents_*.sql).
COPY (
    SELECT tenant_id, strftime(period_start, '%Y-%m-%d') AS period_start,
        strftime(period_end, '%Y-%m-%d') AS period_end,
        CASE WHEN final THEN 'final' ELSE 'open' END AS status,
        fmt_dec(credits_plan) AS credits_plan, fmt_dec(plan_used) AS plan_used,
        fmt_dec(bank_used) AS bank_used, fmt_dec(bank_remaining) AS bank_remaining,
        fmt_dec(exceeding_credits) AS exceeding_credits, fmt_dec(blocked_credits) AS blocked_credits,
        fmt_dec(allowance_units_used) AS allowance_units_used, events
    FROM period_calc WHERE in_report ORDER BY tenant_id, period_start
) TO '{{out}}/ledger/period_usage.csv' (FORMAT csv, HEADER);

COPY (
    SELECT tenant_id, strftime(period_start, '%Y-%m-%d') AS period_start,
        strftime(period_end, '%Y-%m-%d') AS period_end,
        CASE WHEN final THEN 'final' ELSE 'open' END AS status,
        fmt_dec(credits_plan) AS credits_plan, fmt_dec(plan_used) AS credits_used,
        fmt_dec(bank_used) AS credits_bank_used, fmt_dec(bank_remaining) AS credits_bank_remaining,
        fmt_dec(exceeding_credits) AS exceeding_credits, fmt_dec(blocked_credits) AS blocked_credits
    FROM period_calc WHERE in_report ORDER BY tenant_id, period_start
) TO '{{out}}/_parts/history' (FORMAT csv, HEADER, PARTITION_BY (tenant_id), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (
    SELECT re.event_id, re.tenant_id, re.user_id, l.event_type, re.occurred_at,
        re.billed_period_start, re.billed_period_end, re.rate_card_version, re.reason, re.late,
        e4(re.rated_e4) AS rated_credits, re.allowance_pool, e4(re.allowance_e4) AS allowance_units,
        e4(re.plan_e4) AS plan_credits, e4(re.bank_e4) AS bank_credits,
        e4(re.exceeding_e4) AS exceeding_credits, e4(re.blocked_e4) AS blocked_credits
    FROM rated_events re
    LEFT JOIN lines l ON l.rowid = re.lid
    ORDER BY re.tenant_id, re.billed_period_start, re.occurred_at, re.event_id
) TO '{{out}}/ledger/rated_events.parquet' (FORMAT parquet, COMPRESSION snappy);

-- The event-level rows, joined and sorted once for both usage reports.
CREATE OR REPLACE TEMP TABLE usage_rows AS
SELECT re.tenant_id, strftime(re.billed_period_start, '%Y-%m-%d') AS period_start,
    rfc3339(re.occurred_at) AS datetime, l.event_type, re.user_id, l.domain_name,
    fmt_dec(l.event_value) AS event_value, l.event_unit, fmt_dec(e4(re.rated_e4)) AS consumed_credits,
    coalesce(l.username, u.username) AS username, coalesce(l.first_name, u.first_name) AS first_name,
    coalesce(l.last_name, u.last_name) AS last_name
FROM rated_events re
JOIN lines l ON l.rowid = re.lid
LEFT JOIN users_current u ON u.user_id = re.user_id
WHERE re.reason IS DISTINCT FROM 'free_feature' AND re.reason IS DISTINCT FROM 'preview'
ORDER BY re.tenant_id, re.billed_period_start, re.occurred_at, re.event_id;

COPY (
    SELECT tenant_id, period_start, datetime, event_type, user_id, domain_name, event_value,
        event_unit, consumed_credits
    FROM usage_rows
) TO '{{out}}/_parts/usage' (FORMAT csv, HEADER, PARTITION_BY (tenant_id, period_start), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (
    SELECT * FROM usage_rows
) TO '{{out}}/_parts/restricted' (FORMAT csv, HEADER, PARTITION_BY (tenant_id, period_start), FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE);

COPY (
    SELECT invoice_number, tenant_id, strftime(period_start, '%Y-%m-%d') AS period_start,
        strftime(period_end, '%Y-%m-%d') AS period_end, currency,
        fmt_dec(exceeding_credits) AS exceeding_credits, fmt_dec(price_per_credit) AS price_per_credit,
        fmt_dec(amount) AS amount
    FROM invoices ORDER BY year, seq
) TO '{{out}}/invoices/register.csv' (FORMAT csv, HEADER);

-- invoices/{invoice_number}.csv and .xlsx are rendered by pipeline/documents
-- (sql/documents_invoices.sql), after this file.

COPY (
    SELECT l.key AS object_key, l.line_no AS line, ls.reason, ls.field, l.event_id, l.raw
    FROM line_status ls JOIN lines l ON l.rowid = ls.lid
    WHERE ls.status = 'quarantined'
    ORDER BY l.key, l.line_no
) TO '{{out}}/quarantine/{{run_id}}.jsonl' (FORMAT json);
