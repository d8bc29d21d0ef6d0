-- quarantine_summary.sql: quarantined lines by reason, over everything stored, for the
-- run manifest.
-- Inputs: lines, pending, objects. Output: reason, count.
SELECT reason, count(*) FROM (
    SELECT reason FROM lines WHERE status = 'quarantined'
    UNION ALL SELECT reason FROM pending WHERE reason IS NOT NULL
    UNION ALL SELECT reason FROM objects WHERE status = 'unreadable'
) GROUP BY reason ORDER BY reason
