-- load_json.sql: split every staged JSON Lines file of the batch into lines.
-- Inputs: stage_files (fmt = 'json'). Outputs: rows appended to stage_lines (see stage_text.sql).
SET VARIABLE json_paths = (SELECT coalesce(list(path ORDER BY key), []::VARCHAR[]) FROM stage_files WHERE fmt = 'json');
INSERT INTO stage_lines
SELECT f.key, s.line_no, 'json', s.raw, s.raw
FROM (
    SELECT filename, rtrim(unnest(l), chr(13)) AS raw, generate_subscripts(l, 1) AS line_no
    FROM (SELECT filename, string_split(content, chr(10)) AS l FROM read_text(getvariable('json_paths')))
) s
JOIN stage_files f ON f.path = s.filename
WHERE trim(s.raw) <> '';
