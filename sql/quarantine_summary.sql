-- quarantine_summary.sql: quarantined lines by reason, for the run manifest.
-- Inputs: line_status. Output: reason, count, sorted by reason.
SELECT reason, count(*) AS n FROM line_status WHERE status = 'quarantined' GROUP BY reason ORDER BY reason;
