-- explain_lines.sql: every stored line of one event identity, for `creditmeter explain`.
-- Identity is (tenant_id, event_id) (BILLING.md section 2): the first line of an identity is
-- the event (its fate is in pending or frozen_events), the others are exact duplicates or
-- conflicting duplicates; lines quarantined at parsing keep whatever identity they showed.
-- Inputs: lines, objects, runs, pending, frozen_events; $1 tenant_id, $2 event_id, $3 true to
-- include the raw text (personal data: only for --restricted).
-- Output: one row per line, the first line first, then by object key and line number:
-- line_id, obj_no, key, object status (read | replaced), line_no, status (event | duplicate |
-- quarantined), reason, field, parse_detail (never the line's content), the id of the run
-- that read the object, in_pending, in_frozen, raw (NULL unless $3).
SELECT l.line_id, l.obj_no, o.key, o.status, l.line_no, l.status, l.reason, l.field,
    l.parse_detail, r.run_id,
    EXISTS (SELECT 1 FROM pending p WHERE p.line_id = l.line_id) AS in_pending,
    EXISTS (SELECT 1 FROM frozen_events f WHERE f.line_id = l.line_id) AS in_frozen,
    CASE WHEN $3::BOOLEAN THEN l.raw END AS raw
FROM lines l
JOIN objects o ON o.obj_no = l.obj_no
LEFT JOIN runs r ON r.run_seq = o.run_seq
WHERE l.tenant_id = $1 AND l.event_id = $2
ORDER BY l.status <> 'event', o.key, l.line_no, l.line_id
