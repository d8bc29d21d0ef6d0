-- render_quarantine.sql: the quarantine files of the run (FORMATS.md): every line newly
-- quarantined or moved to another reason since the last file, and every unreadable object:
-- object key, line, tenant, event id, reason, field and detail; the restricted twin adds the
-- raw text of the line (personal data). A line logged twice keeps its latest entry.
-- Inputs: qlog, objects, lines; {{out}} the outbox directory, {{run_id}}; $1 run_seq.
-- Outputs: {{out}}/quarantine/{{run_id}}.jsonl, {{out}}/restricted/quarantine/{{run_id}}.jsonl;
-- qlog entries marked as listed by this run.
CREATE OR REPLACE TEMP TABLE qfile AS
SELECT q.line_id, o.key AS object_key, q.line_no AS line, q.tenant_id, q.event_id, q.reason, q.field, q.detail
FROM (SELECT *, rowid AS r FROM qlog WHERE file_run IS NULL) q
JOIN objects o ON o.obj_no = q.obj_no
QUALIFY row_number() OVER (PARTITION BY q.obj_no, q.line_id ORDER BY q.r DESC) = 1;
COPY (
    SELECT object_key, line, tenant_id, event_id, reason, field, detail
    FROM qfile ORDER BY object_key, line
) TO '{{out}}/quarantine/{{run_id}}.jsonl' (FORMAT json);
COPY (
    SELECT q.object_key, q.line, q.tenant_id, q.event_id, q.reason, q.field, q.detail, l.raw
    FROM qfile q LEFT JOIN lines l ON l.line_id = q.line_id
    ORDER BY q.object_key, q.line
) TO '{{out}}/restricted/quarantine/{{run_id}}.jsonl' (FORMAT json);
UPDATE qlog SET file_run = $1 WHERE file_run IS NULL;
DROP TABLE qfile;
