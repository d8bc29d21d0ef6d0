-- load_moved.sql: earlier lines whose place in their identity changed with the batch (a
-- first displaced by an earlier key, a duplicate promoted when its first went with a
-- replaced version, a duplicate compared with a new first). Run only when ranked has
-- earlier members.
-- Inputs: ranked, pending, lines; $1 run_seq. Outputs: pending, dup_lines, lines (status),
-- dirty_tenants, qlog, changed_lines.
-- A first displaced by an earlier key: it was open (a final one is never displaced).
INSERT OR IGNORE INTO dirty_tenants
SELECT DISTINCT r.tenant_id FROM ranked r JOIN pending p ON p.line_id = r.line_id
WHERE r.src = 'pending' AND NOT r.is_first AND p.validated_run IS NOT NULL AND p.reason IS NULL;
DELETE FROM pending WHERE line_id IN (SELECT line_id FROM ranked WHERE src = 'pending' AND NOT is_first);
-- A duplicate that becomes the first (its first went away with a replaced version).
INSERT INTO pending (line_id, obj_no, key, line_no, tenant_id, event_id, digest, occurred_at,
    domain_name, user_id, event_type, event_value, event_unit, preview, attributes, username,
    first_name, last_name)
SELECT l.line_id, l.obj_no, r.key, l.line_no, l.tenant_id, l.event_id, l.digest, l.occurred_at,
    l.domain_name, l.user_id, l.event_type, l.event_value, l.event_unit, l.preview, l.attributes,
    l.username, l.first_name, l.last_name
FROM ranked r JOIN lines l ON l.line_id = r.line_id
WHERE r.src = 'dup' AND r.is_first;
-- The duplicates of every touched identity, rebuilt.
DELETE FROM dup_lines WHERE line_id IN (SELECT line_id FROM ranked WHERE src = 'dup');
INSERT INTO dup_lines
SELECT line_id, tenant_id, event_id, digest, key, line_no FROM ranked WHERE NOT is_first AND src IN ('pending', 'dup');
-- Earlier lines whose status changes.
CREATE OR REPLACE TEMP TABLE moved AS
SELECT r.line_id, r.tenant_id, r.event_id,
    CASE WHEN r.is_first THEN 'event' WHEN r.digest = r.first_digest THEN 'duplicate' ELSE 'quarantined' END AS status,
    CASE WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'conflicting_duplicate' END AS reason,
    CASE WHEN NOT r.is_first AND r.digest <> r.first_digest THEN 'event_id' END AS field
FROM ranked r
WHERE r.src IN ('pending', 'dup');
DELETE FROM moved WHERE line_id IN (
    SELECT m.line_id FROM moved m JOIN lines l ON l.line_id = m.line_id
    WHERE l.status = m.status AND l.reason IS NOT DISTINCT FROM m.reason);
UPDATE lines SET status = m.status, reason = m.reason, field = m.field
FROM moved m WHERE lines.line_id = m.line_id;
INSERT INTO changed_lines SELECT line_id FROM moved;

INSERT INTO qlog
SELECT line_id, CAST(line_id >> 32 AS INTEGER), line_id & 4294967295, tenant_id, event_id, reason, field, NULL, $1, NULL
FROM moved WHERE status = 'quarantined';
