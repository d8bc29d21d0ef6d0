-- documents_events.sql: the anonymized event-level rows of one tenant period, for the Events
-- sheet of the tenant workbook (pipeline/documents). The same selection as the usage CSV
-- (FORMATS.md): events billed in the period, free features and previews left out; no
-- usernames or names.
-- Inputs: rated_events, lines; $1 tenant_id, $2 period_start (YYYY-MM-DD).
-- Outputs (rows): datetime (RFC 3339 UTC), event_type, user_id, domain_name, event_value,
-- event_unit, consumed_credits, plan_credits, bank_credits, exceeding_credits,
-- blocked_credits (exact text), late, event_id; sorted by occurred_at, event_id.
SELECT rfc3339(re.occurred_at) AS datetime, l.event_type, re.user_id, coalesce(l.domain_name, '') AS domain_name,
    CAST(l.event_value AS VARCHAR) AS event_value, coalesce(l.event_unit, '') AS event_unit,
    CAST(e4(re.rated_e4) AS VARCHAR) AS consumed_credits, CAST(e4(re.plan_e4) AS VARCHAR) AS plan_credits,
    CAST(e4(re.bank_e4) AS VARCHAR) AS bank_credits, CAST(e4(re.exceeding_e4) AS VARCHAR) AS exceeding_credits,
    CAST(e4(re.blocked_e4) AS VARCHAR) AS blocked_credits, re.late, re.event_id
FROM rated_events re
JOIN lines l ON l.rowid = re.lid
WHERE re.tenant_id = $1 AND re.billed_period_start = CAST($2 AS DATE)
    AND re.reason IS DISTINCT FROM 'free_feature' AND re.reason IS DISTINCT FROM 'preview'
ORDER BY re.occurred_at, re.event_id
