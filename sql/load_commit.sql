-- load_commit.sql: record the batch's lines with their status, the new first lines in the
-- open working set, the quarantine log and the batch's objects; empty the staging tables.
-- Inputs: stage_lines, stage_objects, ranked; $1 run_seq. Outputs: lines, pending, qlog,
-- objects, changed_lines.
CREATE OR REPLACE TEMP TABLE batch_lines AS
SELECT s.*,
    CASE WHEN s.parse_reason IS NOT NULL THEN 'quarantined'
         WHEN r.is_first THEN 'event'
         WHEN r.digest = r.first_digest THEN 'duplicate'
         ELSE 'quarantined' END AS status,
    CASE WHEN s.parse_reason IS NOT NULL THEN s.parse_reason
         WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'conflicting_duplicate' END AS reason,
    CASE WHEN s.parse_reason IS NOT NULL THEN s.parse_field
         WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'event_id' END AS field,
    r.key AS rank_key, coalesce(r.is_first, false) AS is_first
FROM stage_lines s
LEFT JOIN ranked r ON r.line_id = s.line_id AND r.src = 'new';
INSERT INTO lines SELECT * EXCLUDE (rank_key, is_first) FROM batch_lines;
INSERT INTO pending (line_id, obj_no, key, line_no, tenant_id, event_id, digest, occurred_at,
    domain_name, user_id, event_type, event_value, event_unit, preview, attributes, username,
    first_name, last_name)
SELECT line_id, obj_no, rank_key, line_no, tenant_id, event_id, digest, occurred_at,
    domain_name, user_id, event_type, event_value, event_unit, preview, attributes, username,
    first_name, last_name
FROM batch_lines WHERE is_first;
INSERT INTO dup_lines
SELECT line_id, tenant_id, event_id, digest, key, line_no FROM ranked WHERE src = 'new' AND NOT is_first;
INSERT INTO changed_lines SELECT line_id FROM batch_lines;
INSERT INTO qlog
SELECT line_id, obj_no, line_no, tenant_id, event_id, reason, field, parse_detail, $1, NULL
FROM batch_lines WHERE status = 'quarantined';
INSERT INTO qlog
SELECT NULL, obj_no, NULL, NULL, NULL, reason, NULL, detail, $1, NULL
FROM stage_objects WHERE status = 'unreadable';
INSERT INTO objects
SELECT s.obj_no, s.key, s.etag, s.size, s.sha256, s.format, s.status, s.reason, s.detail,
    s.lines, $1
FROM stage_objects s;
DELETE FROM stage_lines;
DELETE FROM stage_objects;
DROP TABLE batch_lines;
