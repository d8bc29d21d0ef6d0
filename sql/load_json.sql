-- load_json.sql: split every JSON Lines file of the batch into lines, and point parse_src at
-- them. The split runs on one thread; parsing from the staged table then uses every core.
-- Inputs: stage_files (fmt = 'json'); the files are plain UTF-8 (gzip already undone).
-- Outputs: rows of stage_lines, and the temp view parse_src(key, line_no, fmt, raw, doc)
-- read by parse_lines.sql.
-- Blank lines are not events and are left out, but line numbers count them.
SET VARIABLE json_paths = (SELECT coalesce(list(path ORDER BY key), []::VARCHAR[]) FROM stage_files WHERE fmt = 'json');
INSERT INTO stage_lines
SELECT f.key, s.line_no, 'json', s.raw, NULL
FROM (
    SELECT filename, rtrim(unnest(l), chr(13)) AS raw, generate_subscripts(l, 1) AS line_no
    FROM (SELECT filename, string_split(content, chr(10)) AS l FROM read_text(getvariable('json_paths')))
) s
JOIN stage_files f ON f.path = s.filename
-- a blank line is white space only, Unicode's included (as Go's strings.TrimSpace, used for CSV)
WHERE starts_with(s.raw, '{') OR NOT regexp_full_match(s.raw, '[\t\n\v\f\r \x{85}\p{Z}]*');
CREATE OR REPLACE TEMP VIEW parse_src AS
SELECT key, line_no, fmt, raw, CASE WHEN fmt = 'json' THEN raw ELSE doc END AS doc FROM stage_lines;
