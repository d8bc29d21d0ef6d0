-- reconcile.sql: the reconciliation identities of BILLING.md section 2, per tenant, over
-- everything stored. Counts come from their own sources so that the identities can fail:
-- lines (what loading found), pending (the open working set), frozen_events (final).
-- Inputs: lines, pending, frozen_events, periods. Output: one row per tenant id seen in the
-- lines ('' for lines without one): lines_read, first lines (status event), duplicates,
-- quarantined at loading, open accepted, open quarantined, never validated, final accepted,
-- periods where rated <> plan + bank + exceeding + blocked, open events with a negative
-- amount.
WITH l AS (
    SELECT coalesce(tenant_id, '') AS tenant_id, count(*) AS lines_read,
        count(*) FILTER (WHERE status = 'event') AS firsts,
        count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
        count(*) FILTER (WHERE status = 'quarantined') AS quarantined_lines
    FROM lines GROUP BY ALL
), p AS (
    SELECT tenant_id,
        count(*) FILTER (WHERE validated_run IS NOT NULL AND reason IS NULL) AS accepted_open,
        count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined_open,
        count(*) FILTER (WHERE validated_run IS NULL) AS unvalidated,
        count(*) FILTER (WHERE least(rated_e4, allowance_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4) < 0
                         OR rated_e4 <> plan_e4 + bank_e4 + exceeding_e4 + blocked_e4) AS bad_events
    FROM pending GROUP BY ALL
), f AS (
    SELECT tenant_id, count(*) AS accepted_final FROM frozen_events GROUP BY ALL
), b AS (
    SELECT tenant_id, count(*) AS bad_periods FROM periods
    WHERE rated_credits <> plan_used + bank_used + exceeding_credits + blocked_credits
       OR least(plan_used, bank_used, exceeding_credits, blocked_credits, bank_remaining) < 0
    GROUP BY ALL
), ids AS (
    SELECT tenant_id FROM l UNION SELECT tenant_id FROM p UNION SELECT tenant_id FROM f UNION SELECT tenant_id FROM b
)
SELECT ids.tenant_id, coalesce(l.lines_read, 0), coalesce(l.firsts, 0), coalesce(l.duplicates, 0),
    coalesce(l.quarantined_lines, 0), coalesce(p.accepted_open, 0), coalesce(p.quarantined_open, 0),
    coalesce(p.unvalidated, 0), coalesce(f.accepted_final, 0), coalesce(b.bad_periods, 0),
    coalesce(p.bad_events, 0)
FROM ids
LEFT JOIN l ON l.tenant_id = ids.tenant_id
LEFT JOIN p ON p.tenant_id = ids.tenant_id
LEFT JOIN f ON f.tenant_id = ids.tenant_id
LEFT JOIN b ON b.tenant_id = ids.tenant_id
ORDER BY 1
