-- documents_events.sql: the anonymized event-level rows of one tenant period, for the Events
-- sheet of the tenant workbook (pipeline/documents). The same selection as the usage CSV
-- (FORMATS.md): events billed in the period, free features and previews left out; no
-- usernames or names. An open period (or one this run finalizes) comes from this run's
-- usage_rows; a period final before the run from frozen_events and lines.
-- Inputs: usage_rows, frozen_events, lines; $1 tenant_id, $2 period_start (YYYY-MM-DD),
-- $3 run_seq.
-- Outputs (rows): datetime (RFC 3339 UTC), event_type, user_id, domain_name, event_value,
-- event_unit, consumed_credits, plan_credits, bank_credits, exceeding_credits,
-- blocked_credits (exact text), late, event_id; sorted by occurred_at, event_id.
WITH ev AS (
    SELECT occurred_at, event_id, event_type, user_id, domain_name, event_value, event_unit,
        reason, late, rated_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4
    FROM usage_rows WHERE tenant_id = $1 AND billed_period_start = CAST($2 AS DATE)
    UNION ALL
    SELECT fe.occurred_at, fe.event_id, fe.event_type, fe.user_id, l.domain_name, l.event_value, l.event_unit,
        fe.reason, fe.late, fe.rated_e4, fe.plan_e4, fe.bank_e4, fe.exceeding_e4, fe.blocked_e4
    FROM frozen_events fe JOIN lines l ON l.line_id = fe.line_id
    WHERE fe.tenant_id = $1 AND fe.billed_period_start = CAST($2 AS DATE) AND fe.finalized_run < $3
)
SELECT rfc3339(occurred_at) AS datetime, event_type, user_id, coalesce(domain_name, '') AS domain_name,
    CAST(event_value AS VARCHAR) AS event_value, coalesce(event_unit, '') AS event_unit,
    CAST(e4(rated_e4) AS VARCHAR) AS consumed_credits, CAST(e4(plan_e4) AS VARCHAR) AS plan_credits,
    CAST(e4(bank_e4) AS VARCHAR) AS bank_credits, CAST(e4(exceeding_e4) AS VARCHAR) AS exceeding_credits,
    CAST(e4(blocked_e4) AS VARCHAR) AS blocked_credits, late, event_id
FROM ev
WHERE reason IS DISTINCT FROM 'free_feature' AND reason IS DISTINCT FROM 'preview'
ORDER BY occurred_at, event_id
