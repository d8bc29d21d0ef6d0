-- snapshot_export.sql: export the run's results, without personal data, for the analysts'
-- snapshot (pipeline/snapshot). Runs on the run's connection, inside or outside its
-- finalize transaction (COPY TO files writes no table).
-- Inputs: lines, line_status, rated_events, period_calc, invoices; {{stage}} is a private
-- staging directory.
-- Outputs: {{stage}}/events.parquet, {{stage}}/rated_events.parquet,
-- {{stage}}/period_usage.parquet, {{stage}}/invoices.parquet, {{stage}}/quarantine.parquet.
-- Personal data (username, first_name, last_name) and raw line text are never selected.
COPY (
    SELECT l.key AS object_key, l.line_no, l.fmt AS format, l.event_id, l.occurred_at, l.tenant_id,
        l.domain_name, l.user_id, l.event_type, l.event_value, l.event_unit, l.preview,
        l.attributes,
        coalesce(ls.status, CASE WHEN re.lid IS NULL THEN 'unbillable' ELSE 'accepted' END) AS status,
        ls.reason, ls.field, re.billed_period_start
    FROM lines l
    LEFT JOIN line_status ls ON ls.lid = l.rowid
    LEFT JOIN rated_events re ON re.lid = l.rowid
    ORDER BY l.key, l.line_no
) TO '{{stage}}/events.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT re.event_id, re.tenant_id, re.user_id, l.event_type, re.occurred_at,
        re.billed_period_start, re.billed_period_end, re.rate_card_version, re.reason, re.late,
        e4(re.rated_e4) AS rated_credits, re.allowance_pool,
        e4(re.allowance_e4) AS allowance_units, e4(re.plan_e4) AS plan_credits,
        e4(re.bank_e4) AS bank_credits, e4(re.exceeding_e4) AS exceeding_credits,
        e4(re.blocked_e4) AS blocked_credits
    FROM rated_events re
    LEFT JOIN lines l ON l.rowid = re.lid
    ORDER BY re.tenant_id, re.billed_period_start, re.occurred_at, re.event_id
) TO '{{stage}}/rated_events.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT tenant_id, period_start, period_end, CASE WHEN final THEN 'final' ELSE 'open' END AS status,
        credits_plan, plan_used, bank_used, bank_remaining, exceeding_credits, blocked_credits,
        allowance_units_used, events, rated_credits
    FROM period_calc WHERE in_report ORDER BY tenant_id, period_start
) TO '{{stage}}/period_usage.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT invoice_number, year, seq, tenant_id, period_start, period_end, currency,
        exceeding_credits, price_per_credit, amount, issued_on
    FROM invoices ORDER BY year, seq
) TO '{{stage}}/invoices.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT l.key AS object_key, l.line_no, ls.reason, ls.field, l.event_id, l.tenant_id, l.user_id,
        l.event_type, l.occurred_at
    FROM line_status ls JOIN lines l ON l.rowid = ls.lid
    WHERE ls.status = 'quarantined'
    ORDER BY l.key, l.line_no
) TO '{{stage}}/quarantine.parquet' (FORMAT parquet, COMPRESSION zstd);
