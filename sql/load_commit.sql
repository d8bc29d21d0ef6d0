-- load_commit.sql: parse the staged lines and record the batch's objects in the manifest.
-- Inputs: stage_objects (the batch's objects), lines (parsed by parse_lines.sql, run first);
-- $1 run_seq. Outputs: objects upserted with their line counts.
INSERT OR REPLACE INTO objects
SELECT o.key, o.etag, o.size, o.sha256, o.format,
    (SELECT count(*) FROM lines l WHERE l.key = o.key), $1
FROM stage_objects o;
