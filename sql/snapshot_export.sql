-- snapshot_export.sql: export the stored results, without personal data, for the analysts'
-- snapshot (pipeline/snapshot). Runs on the run's connection after its results committed.
-- Inputs: lines, objects, pending, frozen_events, periods, invoices, cfg_periods;
-- {{stage}} is a private staging directory.
-- Outputs: {{stage}}/events.parquet, {{stage}}/rated_events.parquet,
-- {{stage}}/period_usage.parquet, {{stage}}/invoices.parquet, {{stage}}/quarantine.parquet.
-- Personal data (username, first_name, last_name) and raw line text are never selected.
CREATE OR REPLACE TEMP TABLE snap_fate AS
SELECT line_id, CASE WHEN reason IS NULL THEN 'accepted' ELSE 'quarantined' END AS status, reason, field,
    billed_period_start
FROM pending
UNION ALL
SELECT line_id, 'accepted', NULL, NULL, billed_period_start FROM frozen_events;

COPY (
    SELECT o.key AS object_key, l.line_no, o.format, l.event_id, l.occurred_at, l.tenant_id,
        l.domain_name, l.user_id, l.event_type, l.event_value, l.event_unit, l.preview,
        l.attributes,
        CASE WHEN l.status = 'event' THEN coalesce(f.status, 'accepted') ELSE l.status END AS status,
        CASE WHEN l.status = 'event' THEN f.reason ELSE l.reason END AS reason,
        CASE WHEN l.status = 'event' THEN f.field ELSE l.field END AS field,
        f.billed_period_start
    FROM lines l
    JOIN objects o ON o.obj_no = l.obj_no
    LEFT JOIN snap_fate f ON f.line_id = l.line_id
    ORDER BY o.key, l.line_no, l.line_id
) TO '{{stage}}/events.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT event_id, tenant_id, user_id, event_type, occurred_at, billed_period_start, billed_period_end,
        rate_card_version, reason, late, e4(rated_e4) AS rated_credits, allowance_pool,
        e4(allowance_e4) AS allowance_units, e4(plan_e4) AS plan_credits, e4(bank_e4) AS bank_credits,
        e4(exceeding_e4) AS exceeding_credits, e4(blocked_e4) AS blocked_credits
    FROM (
        SELECT event_id, tenant_id, user_id, event_type, occurred_at, billed_period_start,
            billed_period_end, rate_card_version, reason, late, rated_e4, allowance_pool,
            allowance_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4
        FROM frozen_events
        UNION ALL
        SELECT p.event_id, p.tenant_id, p.user_id, p.event_type, p.occurred_at, p.billed_period_start,
            cp.period_end, p.rate_card_version, p.rate_reason, p.late, p.rated_e4, p.allowance_pool,
            p.allowance_e4, p.plan_e4, p.bank_e4, p.exceeding_e4, p.blocked_e4
        FROM pending p
        JOIN cfg_periods cp ON cp.tenant_id = p.tenant_id AND cp.period_start = p.billed_period_start
        WHERE p.validated_run IS NOT NULL AND p.reason IS NULL
    )
    ORDER BY tenant_id, billed_period_start, occurred_at, event_id
) TO '{{stage}}/rated_events.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT tenant_id, period_start, period_end, status, credits_plan, plan_used, bank_used,
        bank_remaining, exceeding_credits, blocked_credits, allowance_units_used, events, rated_credits
    FROM periods ORDER BY tenant_id, period_start
) TO '{{stage}}/period_usage.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT invoice_number, year, seq, tenant_id, period_start, period_end, currency,
        exceeding_credits, price_per_credit, amount, issued_on
    FROM invoices ORDER BY year, seq
) TO '{{stage}}/invoices.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
    SELECT object_key, line_no, reason, field, event_id, tenant_id, user_id, event_type, occurred_at
    FROM (
        SELECT o.key AS object_key, l.line_no, l.reason, l.field, l.event_id, l.tenant_id, l.user_id,
            l.event_type, l.occurred_at
        FROM lines l JOIN objects o ON o.obj_no = l.obj_no
        WHERE l.status = 'quarantined'
        UNION ALL
        SELECT p.key, p.line_no, p.reason, p.field, p.event_id, p.tenant_id, p.user_id, p.event_type, p.occurred_at
        FROM pending p WHERE p.reason IS NOT NULL
        UNION ALL
        SELECT key, NULL, reason, NULL, NULL, NULL, NULL, NULL, NULL FROM objects WHERE status = 'unreadable'
    )
    ORDER BY object_key, line_no
) TO '{{stage}}/quarantine.parquet' (FORMAT parquet, COMPRESSION zstd);
DROP TABLE snap_fate;
