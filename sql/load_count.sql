-- load_count.sql: event lines of the batch just loaded.
-- Inputs: stage_objects, objects. Output: one number.
SELECT coalesce(sum(o.lines), 0) FROM objects o JOIN stage_objects s ON s.key = o.key;
