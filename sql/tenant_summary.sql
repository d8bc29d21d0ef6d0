-- tenant_summary.sql: per-tenant reconciliation for the run manifest.
-- Inputs: lines, line_status, checked, period_calc. Output: one row per tenant id seen in the
-- lines or configured: lines read, accepted, quarantined, duplicates, and credits by bucket
-- over its periods.
WITH l AS (
    SELECT coalesce(tenant_id, '') AS tenant_id, count(*) AS lines_read FROM lines GROUP BY ALL
), s AS (
    SELECT coalesce(l.tenant_id, '') AS tenant_id,
        count(*) FILTER (WHERE s.status = 'quarantined') AS quarantined,
        count(*) FILTER (WHERE s.status = 'duplicate') AS duplicates
    FROM line_status s JOIN lines l ON l.rowid = s.lid GROUP BY ALL
), a AS (
    SELECT tenant_id, count(*) AS accepted FROM checked WHERE reject_reason IS NULL GROUP BY ALL
), p AS (
    SELECT tenant_id, sum(rated_credits) AS rated, sum(plan_used) AS plan, sum(bank_used) AS bank,
        sum(exceeding_credits) AS exceeding, sum(blocked_credits) AS blocked
    FROM period_calc GROUP BY tenant_id
), ids AS (
    SELECT tenant_id FROM l UNION SELECT tenant_id FROM p
)
SELECT ids.tenant_id,
    coalesce(l.lines_read, 0), coalesce(a.accepted, 0), coalesce(s.quarantined, 0), coalesce(s.duplicates, 0),
    fmt_dec(coalesce(p.rated, 0)), fmt_dec(coalesce(p.plan, 0)), fmt_dec(coalesce(p.bank, 0)),
    fmt_dec(coalesce(p.exceeding, 0)), fmt_dec(coalesce(p.blocked, 0))
FROM ids
LEFT JOIN l ON l.tenant_id = ids.tenant_id
LEFT JOIN s ON s.tenant_id = ids.tenant_id
LEFT JOIN a ON a.tenant_id = ids.tenant_id
LEFT JOIN p ON p.tenant_id = ids.tenant_id
ORDER BY 1;
