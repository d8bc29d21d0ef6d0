-- load_commit.sql: parse the staged lines and record the batch's objects in the manifest.
-- Inputs: stage_lines, stage_files; objects of the batch are recorded by Go before this runs
-- into stage_objects. Outputs: lines (via parse_lines.sql, run first), objects upserted.
INSERT OR REPLACE INTO objects
SELECT o.key, o.etag, o.size, o.sha256, o.format,
    (SELECT count(*) FROM stage_lines s WHERE s.key = o.key), $1
FROM stage_objects o;
