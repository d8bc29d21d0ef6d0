-- tenant_summary.sql: per-tenant reconciliation for the run manifest.
-- Inputs: lines, line_status, period_calc. Output: one row per tenant id seen in the lines or
-- configured: lines read, accepted, quarantined, duplicates, and credits by bucket over the
-- reported periods.
WITH l AS (
    SELECT coalesce(l.tenant_id, '') AS tenant_id,
        count(*) AS lines_read,
        count(*) FILTER (WHERE s.status = 'accepted') AS accepted,
        count(*) FILTER (WHERE s.status = 'quarantined') AS quarantined,
        count(*) FILTER (WHERE s.status = 'duplicate') AS duplicates
    FROM lines l JOIN line_status s ON s.key = l.key AND s.line_no = l.line_no
    GROUP BY ALL
), p AS (
    SELECT tenant_id, sum(rated_credits) AS rated, sum(plan_used) AS plan, sum(bank_used) AS bank,
        sum(exceeding_credits) AS exceeding, sum(blocked_credits) AS blocked
    FROM period_calc GROUP BY tenant_id
)
SELECT coalesce(l.tenant_id, p.tenant_id) AS tenant_id,
    coalesce(lines_read, 0), coalesce(accepted, 0), coalesce(quarantined, 0), coalesce(duplicates, 0),
    fmt_dec(coalesce(rated, 0)), fmt_dec(coalesce(plan, 0)), fmt_dec(coalesce(bank, 0)),
    fmt_dec(coalesce(exceeding, 0)), fmt_dec(coalesce(blocked, 0))
FROM l FULL JOIN p ON p.tenant_id = l.tenant_id
ORDER BY 1;
