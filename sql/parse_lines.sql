-- parse_lines.sql: parse staged lines into typed events (BILLING.md section 2, parse step).
-- Inputs: stage_lines(key, line_no, fmt, raw, doc). fmt 'json' is strict JSON typing; 'csv'
-- and 'parquet' carry text fields, so numbers and booleans may come as strings there. A NULL
-- doc is a line that could not be split into fields (a CSV row of the wrong width).
-- Output: rows appended to lines, with parse_reason malformed | bad_timestamp |
-- negative_value (and parse_field naming the field) or NULL for a parsed event.
INSERT INTO lines
WITH d AS (
    SELECT key, line_no, fmt, raw,
        CASE WHEN doc IS NOT NULL AND json_valid(doc) AND json_type(doc) = 'OBJECT'
             THEN json_extract(doc, ['$.event_id', '$.occurred_at', '$.tenant_id', '$.domain_name',
                  '$.user_id', '$.event_type', '$.event_value', '$.event_unit', '$.preview',
                  '$.attributes', '$.username', '$.first_name', '$.last_name']) END AS v
    FROM stage_lines
), t AS (
    SELECT key, line_no, fmt, raw, v,
        list_transform(v, x -> coalesce(json_type(x), 'NULL')) AS ty,
        list_transform(v, x -> json_extract_string(x, '$')) AS s
    FROM d
), f AS (
    SELECT key, line_no, fmt, raw, v IS NULL AS unparsable,
        -- strings: required ones must be non-empty JSON strings
        CASE WHEN ty[1] = 'VARCHAR' AND s[1] <> '' THEN s[1] END AS event_id,
        CASE WHEN ty[2] = 'VARCHAR' THEN s[2] END AS occurred_at_text,
        CASE WHEN ty[3] = 'VARCHAR' AND s[3] <> '' THEN s[3] END AS tenant_id,
        CASE WHEN ty[4] = 'VARCHAR' THEN s[4] END AS domain_name,
        ty[4] NOT IN ('VARCHAR', 'NULL') AS bad_domain,
        CASE WHEN ty[5] = 'VARCHAR' AND s[5] <> '' THEN s[5] END AS user_id,
        CASE WHEN ty[6] = 'VARCHAR' AND s[6] <> '' THEN s[6] END AS event_type,
        CASE WHEN ty[7] IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST(s[7] AS DECIMAL(38,10))
             WHEN ty[7] = 'VARCHAR' AND fmt <> 'json' THEN TRY_CAST(trim(s[7]) AS DECIMAL(38,10)) END AS event_value,
        CASE WHEN ty[8] = 'VARCHAR' AND s[8] <> '' THEN s[8] END AS event_unit,
        CASE WHEN ty[9] = 'NULL' THEN false
             WHEN ty[9] = 'BOOLEAN' THEN s[9] = 'true'
             WHEN ty[9] = 'VARCHAR' AND fmt <> 'json' THEN TRY_CAST(trim(s[9]) AS BOOLEAN) END AS preview,
        CASE WHEN ty[10] = 'OBJECT' THEN json(v[10])
             WHEN ty[10] = 'VARCHAR' AND fmt <> 'json' AND json_valid(s[10]) AND json_type(s[10]) = 'OBJECT' THEN json(s[10]) END AS attributes,
        ty[10] NOT IN ('OBJECT', 'NULL') AND NOT (ty[10] = 'VARCHAR' AND fmt <> 'json' AND json_valid(s[10]) AND json_type(s[10]) = 'OBJECT') AS bad_attributes,
        CASE WHEN ty[11] = 'VARCHAR' THEN s[11] END AS username,
        CASE WHEN ty[12] = 'VARCHAR' THEN s[12] END AS first_name,
        CASE WHEN ty[13] = 'VARCHAR' THEN s[13] END AS last_name,
        ty[11] NOT IN ('VARCHAR', 'NULL') OR ty[12] NOT IN ('VARCHAR', 'NULL') OR ty[13] NOT IN ('VARCHAR', 'NULL') AS bad_person
    FROM t
), p AS (
    SELECT *,
        CASE WHEN fmt = 'parquet' THEN TRY_CAST(occurred_at_text AS TIMESTAMPTZ)
             WHEN regexp_full_match(occurred_at_text, '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})')
             THEN TRY_CAST(occurred_at_text AS TIMESTAMPTZ) END AS occurred_at,
        TRY_CAST(json_extract_string(attributes, '$.input_tokens') AS DECIMAL(38,10)) AS input_tokens,
        TRY_CAST(json_extract_string(attributes, '$.output_tokens') AS DECIMAL(38,10)) AS output_tokens
    FROM f
), r AS (
    SELECT *,
        CASE WHEN unparsable THEN '(line)'
             WHEN event_id IS NULL THEN 'event_id'
             WHEN occurred_at_text IS NULL THEN 'occurred_at'
             WHEN tenant_id IS NULL THEN 'tenant_id'
             WHEN bad_domain THEN 'domain_name'
             WHEN user_id IS NULL THEN 'user_id'
             WHEN event_type IS NULL THEN 'event_type'
             WHEN event_value IS NULL THEN 'event_value'
             WHEN event_unit IS NULL THEN 'event_unit'
             WHEN preview IS NULL THEN 'preview'
             WHEN bad_attributes THEN 'attributes'
             WHEN bad_person THEN 'username'
        END AS malformed_field
    FROM p
)
SELECT key, line_no, fmt, raw,
    CASE WHEN malformed_field IS NOT NULL THEN 'malformed'
         WHEN occurred_at IS NULL THEN 'bad_timestamp'
         WHEN event_value < 0 OR input_tokens < 0 OR output_tokens < 0 THEN 'negative_value'
    END AS parse_reason,
    CASE WHEN malformed_field IS NOT NULL THEN malformed_field
         WHEN occurred_at IS NULL THEN 'occurred_at'
         WHEN event_value < 0 THEN 'event_value'
         WHEN input_tokens < 0 THEN 'attributes.input_tokens'
         WHEN output_tokens < 0 THEN 'attributes.output_tokens'
    END AS parse_field,
    event_id, occurred_at, tenant_id, domain_name, user_id, event_type, event_value, event_unit,
    preview, attributes, username, first_name, last_name,
    hash(occurred_at, tenant_id, domain_name, user_id, event_type, event_value, event_unit,
         preview, attributes::VARCHAR, username, first_name, last_name) AS content_hash
FROM r;
