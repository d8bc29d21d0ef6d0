-- notify_outbox.sql: every notification with its delivery state, for
-- notifications/outbox.jsonl (pipeline/notify writes the JSON) and for delivery.
-- Inputs: notifications; $1 true for only those still to deliver (never sent, or whose
-- last attempt failed; never a suppressed one). Outputs: rows sorted by tenant_id, period_start, threshold; decimals
-- as text (exact), dates as YYYY-MM-DD; kind (utilization | runout), runs_out_on and
-- runout_within last (issue 11).
SELECT tenant_id, tenant_name, strftime(period_start, '%Y-%m-%d') AS period_start,
    strftime(period_end, '%Y-%m-%d') AS period_end, CAST(threshold AS VARCHAR) AS threshold,
    crossed_at, event_id, CAST(credits_plan AS VARCHAR) AS credits_plan,
    CAST(bank_at_start AS VARCHAR) AS bank_at_start,
    CAST(deposits_in_period AS VARCHAR) AS deposits_in_period,
    CAST(credits_limit AS VARCHAR) AS credits_limit, CAST(credits_used AS VARCHAR) AS credits_used,
    CAST(credits_left AS VARCHAR) AS credits_left, CAST(utilization AS VARCHAR) AS utilization,
    policy, CAST(price_per_credit AS VARCHAR) AS price_per_credit, currency, emails, status,
    attempts, last_error, last_attempt_at, sent_at, status_reason, coalesce(kind, 'utilization') AS kind,
    strftime(runs_out_on, '%Y-%m-%d') AS runs_out_on, runout_within
FROM notifications
WHERE NOT $1 OR status IN ('pending', 'failed')
ORDER BY tenant_id, period_start, threshold
