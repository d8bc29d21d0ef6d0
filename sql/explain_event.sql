-- explain_event.sql: the fate of the first line of an identity, for `creditmeter explain`:
-- as billed in a final period (frozen_events, with the fields reports show from lines) or as
-- the open working set has it (pending: latest validation and split).
-- Inputs: frozen_events, pending, lines, periods, runs, user_directory; $1 line_id, $2 true
-- to include usernames and names (personal data: only for --restricted).
-- Output: at most one row: source (final | open), user_id, event_type, occurred_at (Unix
-- µs), domain_name, event_value (text), event_unit, preview, attributes (canonical JSON),
-- the id of the run that last validated it (open) or finalized it (final), reason, field
-- (quarantine), billed_period_start, billed_period_end (YYYY-MM-DD, end exclusive; NULL when
-- the ledger has no row for it yet), late, rate_card_version, rate_reason, allowance_pool,
-- rated_e4, allowance_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4, the billed period's
-- status and credits_plan (text) in the ledger, username, first_name, last_name (NULL unless
-- $2: the event's own fields, else the users/ directory).
WITH e AS (
    SELECT 'final' AS source, f.line_id, f.tenant_id, f.user_id, f.event_type, f.occurred_at,
        f.domain_name, f.event_value, f.event_unit, l.preview, l.attributes, f.finalized_run AS run_seq,
        NULL::VARCHAR AS reason, NULL::VARCHAR AS field, f.billed_period_start, f.billed_period_end,
        f.late, f.rate_card_version, f.reason AS rate_reason, f.allowance_pool, f.rated_e4,
        f.allowance_e4, f.plan_e4, f.bank_e4, f.exceeding_e4, f.blocked_e4,
        l.username, l.first_name, l.last_name
    FROM frozen_events f LEFT JOIN lines l ON l.line_id = f.line_id
    WHERE f.line_id = $1
    UNION ALL
    SELECT 'open', p.line_id, p.tenant_id, p.user_id, p.event_type, p.occurred_at, p.domain_name,
        p.event_value, p.event_unit, p.preview, p.attributes, p.validated_run, p.reason, p.field,
        p.billed_period_start, NULL::DATE, p.late, p.rate_card_version, p.rate_reason,
        p.allowance_pool, p.rated_e4, p.allowance_e4, p.plan_e4, p.bank_e4, p.exceeding_e4,
        p.blocked_e4, p.username, p.first_name, p.last_name
    FROM pending p
    WHERE p.line_id = $1
), u AS (
    -- the users/ directory: the last object by key wins per user
    SELECT user_id, username, first_name, last_name FROM user_directory
    WHERE $2::BOOLEAN AND user_id IN (SELECT user_id FROM e)
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY key DESC, obj_no DESC) = 1
)
SELECT e.source, e.user_id, e.event_type, epoch_us(e.occurred_at), e.domain_name,
    CAST(e.event_value AS VARCHAR), e.event_unit, e.preview, e.attributes, r.run_id, e.reason,
    e.field, strftime(e.billed_period_start, '%Y-%m-%d'),
    strftime(coalesce(e.billed_period_end, pr.period_end), '%Y-%m-%d'), e.late,
    e.rate_card_version, e.rate_reason, e.allowance_pool, e.rated_e4, e.allowance_e4, e.plan_e4,
    e.bank_e4, e.exceeding_e4, e.blocked_e4, pr.status, CAST(pr.credits_plan AS VARCHAR),
    CASE WHEN $2::BOOLEAN THEN coalesce(e.username, u.username) END,
    CASE WHEN $2::BOOLEAN THEN coalesce(e.first_name, u.first_name) END,
    CASE WHEN $2::BOOLEAN THEN coalesce(e.last_name, u.last_name) END
FROM e
LEFT JOIN runs r ON r.run_seq = e.run_seq
LEFT JOIN periods pr ON pr.tenant_id = e.tenant_id AND pr.period_start = e.billed_period_start
LEFT JOIN u ON u.user_id = e.user_id
ORDER BY e.source
LIMIT 1
