-- load_json.sql: point parse_src at every JSON Lines file of the batch, split into lines.
-- Inputs: stage_files (fmt = 'json'); the files are plain UTF-8 (gzip already undone).
-- Outputs: the temp view parse_src(key, line_no, fmt, raw, doc) read by parse_lines.sql.
-- Blank lines are not events and are left out, but line numbers count them.
SET VARIABLE json_paths = (SELECT coalesce(list(path ORDER BY key), []::VARCHAR[]) FROM stage_files WHERE fmt = 'json');
CREATE OR REPLACE TEMP VIEW parse_src AS
SELECT f.key, s.line_no, 'json' AS fmt, s.raw, s.raw AS doc
FROM (
    SELECT filename, rtrim(unnest(l), chr(13)) AS raw, generate_subscripts(l, 1) AS line_no
    FROM (SELECT filename, string_split(content, chr(10)) AS l FROM read_text(getvariable('json_paths')))
) s
JOIN stage_files f ON f.path = s.filename
-- a blank line is white space only, Unicode's included (as Go's strings.TrimSpace, used for CSV)
WHERE starts_with(s.raw, '{') OR NOT regexp_full_match(s.raw, '[\t\n\v\f\r \x{85}\p{Z}]*');
