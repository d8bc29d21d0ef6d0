-- documents_events.sql: the anonymized event-level rows of every recomputed tenant's current
-- period, for the Events sheets of the tenant workbooks (pipeline/documents), in one pass
-- grouped by tenant. The same selection as the usage CSV (FORMATS.md): events billed in the
-- period, free features and previews left out; no usernames or names. An open period (or
-- one this run finalizes) comes from this run's usage_rows (with its allowance units from
-- rated_events); a period final before the run from frozen_events.
-- Inputs: doc_current (tenant_id, period_start: filled by pipeline/documents), usage_rows,
-- rated_events, frozen_events; $1 run_seq.
-- Outputs (rows): tenant_id, datetime (RFC 3339 UTC), event_type, user_id, domain_name,
-- event_value, event_unit, charged_credits (plan + bank + exceeding: what the customer's
-- balance was charged, as the usage CSV's consumed_credits), plan_credits, bank_credits,
-- exceeding_credits, blocked_credits, allowance_units (exact text), late, event_id; sorted by
-- tenant_id, occurred_at, event_id.
WITH ev AS (
    SELECT u.tenant_id, u.occurred_at, u.event_id, u.event_type, u.user_id, u.domain_name, u.event_value,
        u.event_unit, u.reason, u.late, u.plan_e4, u.bank_e4, u.exceeding_e4, u.blocked_e4, re.allowance_e4
    FROM usage_rows u
    SEMI JOIN doc_current c ON c.tenant_id = u.tenant_id AND c.period_start = u.billed_period_start
    JOIN rated_events re ON re.tenant_id = u.tenant_id AND re.event_id = u.event_id
    UNION ALL
    SELECT fe.tenant_id, fe.occurred_at, fe.event_id, fe.event_type, fe.user_id, fe.domain_name, fe.event_value,
        fe.event_unit, fe.reason, fe.late, fe.plan_e4, fe.bank_e4, fe.exceeding_e4, fe.blocked_e4, fe.allowance_e4
    FROM frozen_events fe
    SEMI JOIN doc_current c ON c.tenant_id = fe.tenant_id AND c.period_start = fe.billed_period_start
    WHERE fe.finalized_run < $1
)
SELECT tenant_id, rfc3339(occurred_at) AS datetime, event_type, user_id, coalesce(domain_name, '') AS domain_name,
    CAST(event_value AS VARCHAR) AS event_value, coalesce(event_unit, '') AS event_unit,
    CAST(e4(plan_e4 + bank_e4 + exceeding_e4) AS VARCHAR) AS charged_credits, CAST(e4(plan_e4) AS VARCHAR) AS plan_credits,
    CAST(e4(bank_e4) AS VARCHAR) AS bank_credits, CAST(e4(exceeding_e4) AS VARCHAR) AS exceeding_credits,
    CAST(e4(blocked_e4) AS VARCHAR) AS blocked_credits, CAST(e4(allowance_e4) AS VARCHAR) AS allowance_units,
    late, event_id
FROM ev
WHERE reason IS DISTINCT FROM 'free_feature' AND reason IS DISTINCT FROM 'preview'
ORDER BY tenant_id, occurred_at, event_id
