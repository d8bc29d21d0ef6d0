-- load_known.sql: the objects read before, for planning a pull: the current version of
-- every key and the next object number.
-- Inputs: objects. Output: key, etag, and next_obj_no (the same on every row; one row with a
-- NULL key when no object was read yet).
SELECT o.key, o.etag, n.next_obj_no
FROM (SELECT coalesce(max(obj_no), 0) + 1 AS next_obj_no FROM objects) n
LEFT JOIN objects o ON o.status <> 'replaced';
