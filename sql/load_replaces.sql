-- load_replaces.sql: how many of the batch's keys were read before (a new ETag: the earlier
-- version is replaced, load_replace.sql).
-- Inputs: stage_objects, objects. Output: one count.
SELECT count(*) FROM stage_objects s SEMI JOIN objects o ON o.key = s.key AND o.status <> 'replaced';
