-- load_commit.sql: record the batch's lines with their status, the new first lines in the
-- open working set, the duplicates, the quarantine log and the batch's objects.
-- Inputs: stage_lines (the view over the batch's staged files), stage_objects, ranked;
-- $1 run_seq. Outputs: lines, pending, dup_lines, qlog, objects, changed_lines.
-- The staged lines are read where they lie (Parquet), never copied into a table first.
INSERT INTO lines
SELECT s.*,
    CASE WHEN s.parse_reason IS NOT NULL THEN 'quarantined'
         WHEN r.is_first THEN 'event'
         WHEN r.digest = r.first_digest THEN 'duplicate'
         ELSE 'quarantined' END AS status,
    CASE WHEN s.parse_reason IS NOT NULL THEN s.parse_reason
         WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'conflicting_duplicate' END AS reason,
    CASE WHEN s.parse_reason IS NOT NULL THEN s.parse_field
         WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'event_id' END AS field
FROM stage_lines s
LEFT JOIN ranked r ON r.line_id = s.line_id AND r.src = 'new';
INSERT INTO pending (line_id, obj_no, key, line_no, tenant_id, event_id, digest, occurred_at,
    domain_name, user_id, event_type, event_value, event_unit, preview, attributes, username,
    first_name, last_name)
SELECT s.line_id, s.obj_no, r.key, s.line_no, s.tenant_id, s.event_id, s.digest, s.occurred_at,
    s.domain_name, s.user_id, s.event_type, s.event_value, s.event_unit, s.preview, s.attributes,
    s.username, s.first_name, s.last_name
FROM stage_lines s JOIN ranked r ON r.line_id = s.line_id AND r.src = 'new' AND r.is_first;
INSERT INTO dup_lines
SELECT line_id, tenant_id, event_id, digest, key, line_no FROM ranked WHERE src = 'new' AND NOT is_first;
INSERT INTO changed_lines SELECT line_id FROM stage_lines;
INSERT INTO qlog
SELECT line_id, obj_no, line_no, tenant_id, event_id, parse_reason, parse_field, parse_detail, $1, NULL
FROM stage_lines WHERE parse_reason IS NOT NULL;
INSERT INTO qlog
SELECT r.line_id, CAST(r.line_id >> 32 AS INTEGER), r.line_no, r.tenant_id, r.event_id,
    'conflicting_duplicate', 'event_id', NULL, $1, NULL
FROM ranked r WHERE r.src = 'new' AND NOT r.is_first AND r.digest <> r.first_digest;
INSERT INTO qlog
SELECT NULL, obj_no, NULL, NULL, NULL, reason, NULL, detail, $1, NULL
FROM stage_objects WHERE status = 'unreadable';
INSERT INTO objects
SELECT s.obj_no, s.key, s.etag, s.size, s.sha256, s.format, s.status, s.reason, s.detail,
    s.lines, $1
FROM stage_objects s;
DELETE FROM stage_objects;
