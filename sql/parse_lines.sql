-- parse_lines.sql: parse lines into typed events (BILLING.md section 2, parse step).
-- Inputs: the temp view parse_src(key, line_no, fmt, raw, doc) over stage_lines: JSON Lines
-- split by load_json.sql, CSV and Parquet rows staged before it. fmt 'json' is strict JSON
-- typing; 'csv'
-- and 'parquet' carry text fields, so numbers and booleans may come as strings there. A NULL
-- doc is a line that could not be split into fields (a CSV row of the wrong width).
-- Output: rows appended to lines, with parse_reason malformed | bad_timestamp |
-- negative_value (and parse_field naming the field) or NULL for a parsed event.
-- Row order in lines does not matter (readers sort by key and line), and letting DuckDB
-- insert out of order lets every thread parse.
SET preserve_insertion_order = false;
INSERT INTO lines
WITH d AS (
    -- one parse of the document: each field comes back as JSON text (NULL when absent)
    SELECT key, line_no, fmt, raw,
        CASE WHEN doc IS NOT NULL AND starts_with(ltrim(doc), '{') THEN try(json_transform(doc,
            '{"event_id":"JSON","occurred_at":"JSON","tenant_id":"JSON","domain_name":"JSON",
              "user_id":"JSON","event_type":"JSON","event_value":"JSON","event_unit":"JSON",
              "preview":"JSON","attributes":"JSON","username":"JSON","first_name":"JSON",
              "last_name":"JSON"}')) END AS v
    FROM parse_src
), t AS (
    SELECT key, line_no, fmt, raw, v IS NULL AS unparsable,
        nullif(v.event_id::VARCHAR, 'null') AS j_event_id,
        nullif(v.occurred_at::VARCHAR, 'null') AS j_occurred_at,
        nullif(v.tenant_id::VARCHAR, 'null') AS j_tenant_id,
        nullif(v.domain_name::VARCHAR, 'null') AS j_domain_name,
        nullif(v.user_id::VARCHAR, 'null') AS j_user_id,
        nullif(v.event_type::VARCHAR, 'null') AS j_event_type,
        nullif(v.event_value::VARCHAR, 'null') AS j_event_value,
        nullif(v.event_unit::VARCHAR, 'null') AS j_event_unit,
        nullif(v.preview::VARCHAR, 'null') AS j_preview,
        nullif(v.attributes::VARCHAR, 'null') AS j_attributes,
        nullif(v.username::VARCHAR, 'null') AS j_username,
        nullif(v.first_name::VARCHAR, 'null') AS j_first_name,
        nullif(v.last_name::VARCHAR, 'null') AS j_last_name
    FROM d
), u AS (
    -- strings are unquoted without a second parse unless they hold escapes; a JSON field's
    -- type shows in its first character
    SELECT *,
        CASE WHEN starts_with(j_event_id, '"') THEN CASE WHEN contains(j_event_id, '\\') THEN json_extract_string(j_event_id, '$') ELSE j_event_id[2:-2] END END AS s_event_id,
        CASE WHEN starts_with(j_occurred_at, '"') THEN CASE WHEN contains(j_occurred_at, '\\') THEN json_extract_string(j_occurred_at, '$') ELSE j_occurred_at[2:-2] END END AS s_occurred_at,
        CASE WHEN starts_with(j_tenant_id, '"') THEN CASE WHEN contains(j_tenant_id, '\\') THEN json_extract_string(j_tenant_id, '$') ELSE j_tenant_id[2:-2] END END AS s_tenant_id,
        CASE WHEN starts_with(j_domain_name, '"') THEN CASE WHEN contains(j_domain_name, '\\') THEN json_extract_string(j_domain_name, '$') ELSE j_domain_name[2:-2] END END AS s_domain_name,
        CASE WHEN starts_with(j_user_id, '"') THEN CASE WHEN contains(j_user_id, '\\') THEN json_extract_string(j_user_id, '$') ELSE j_user_id[2:-2] END END AS s_user_id,
        CASE WHEN starts_with(j_event_type, '"') THEN CASE WHEN contains(j_event_type, '\\') THEN json_extract_string(j_event_type, '$') ELSE j_event_type[2:-2] END END AS s_event_type,
        CASE WHEN starts_with(j_event_value, '"') THEN CASE WHEN contains(j_event_value, '\\') THEN json_extract_string(j_event_value, '$') ELSE j_event_value[2:-2] END END AS s_event_value,
        CASE WHEN starts_with(j_event_unit, '"') THEN CASE WHEN contains(j_event_unit, '\\') THEN json_extract_string(j_event_unit, '$') ELSE j_event_unit[2:-2] END END AS s_event_unit,
        CASE WHEN starts_with(j_preview, '"') THEN CASE WHEN contains(j_preview, '\\') THEN json_extract_string(j_preview, '$') ELSE j_preview[2:-2] END END AS s_preview,
        CASE WHEN starts_with(j_username, '"') THEN CASE WHEN contains(j_username, '\\') THEN json_extract_string(j_username, '$') ELSE j_username[2:-2] END END AS s_username,
        CASE WHEN starts_with(j_first_name, '"') THEN CASE WHEN contains(j_first_name, '\\') THEN json_extract_string(j_first_name, '$') ELSE j_first_name[2:-2] END END AS s_first_name,
        CASE WHEN starts_with(j_last_name, '"') THEN CASE WHEN contains(j_last_name, '\\') THEN json_extract_string(j_last_name, '$') ELSE j_last_name[2:-2] END END AS s_last_name
    FROM t
), f AS (
    SELECT key, line_no, fmt, raw, unparsable,
        -- strings: required ones must be non-empty JSON strings
        nullif(s_event_id, '') AS event_id,
        s_occurred_at AS occurred_at_text,
        nullif(s_tenant_id, '') AS tenant_id,
        s_domain_name AS domain_name,
        j_domain_name IS NOT NULL AND s_domain_name IS NULL AS bad_domain,
        nullif(s_user_id, '') AS user_id,
        nullif(s_event_type, '') AS event_type,
        CASE WHEN s_event_value IS NULL THEN to_dec(j_event_value)
             WHEN fmt <> 'json' THEN to_dec(trim(s_event_value)) END AS event_value,
        nullif(s_event_unit, '') AS event_unit,
        CASE WHEN j_preview IS NULL THEN false
             WHEN j_preview IN ('true', 'false') THEN j_preview = 'true'
             WHEN s_preview IS NOT NULL AND fmt <> 'json' THEN TRY_CAST(trim(s_preview) AS BOOLEAN) END AS preview,
        CASE WHEN starts_with(j_attributes, '{') THEN j_attributes::JSON
             WHEN starts_with(j_attributes, '"') AND fmt <> 'json' THEN try(json_extract_string(j_attributes, '$')::JSON) END AS attr0,
        s_username AS username, s_first_name AS first_name, s_last_name AS last_name,
        (j_username IS NOT NULL AND s_username IS NULL) OR (j_first_name IS NOT NULL AND s_first_name IS NULL)
            OR (j_last_name IS NOT NULL AND s_last_name IS NULL) AS bad_person,
        j_attributes
    FROM u
), g AS (
    SELECT * EXCLUDE (attr0),
        CASE WHEN starts_with(attr0::VARCHAR, '{') THEN attr0 END AS attributes,
        j_attributes IS NOT NULL AND NOT coalesce(starts_with(attr0::VARCHAR, '{'), false) AS bad_attributes
    FROM f
), p AS (
    SELECT *,
        CASE WHEN fmt = 'parquet' THEN TRY_CAST(occurred_at_text AS TIMESTAMPTZ)
             -- RFC 3339 with an offset: the digits are checked by the cast
             WHEN length(occurred_at_text) >= 20 AND occurred_at_text[5] = '-' AND occurred_at_text[8] = '-'
                  AND occurred_at_text[11] IN ('T', 't', ' ') AND occurred_at_text[14] = ':' AND occurred_at_text[17] = ':'
                  AND (right(occurred_at_text, 1) IN ('Z', 'z')
                       OR (occurred_at_text[-6] IN ('+', '-') AND occurred_at_text[-3] = ':'))
                  AND (length(occurred_at_text) IN (20, 25) OR occurred_at_text[20] = '.')
             THEN TRY_CAST(occurred_at_text AS TIMESTAMPTZ) END AS occurred_at,
        CASE WHEN attributes IS NOT NULL THEN to_dec(json_extract_string(attributes, '$.input_tokens')) END AS input_tokens,
        CASE WHEN attributes IS NOT NULL THEN to_dec(json_extract_string(attributes, '$.output_tokens')) END AS output_tokens
    FROM g
), r AS (
    SELECT *,
        CASE WHEN unparsable THEN '(line)'
             WHEN event_id IS NULL THEN 'event_id'
             WHEN occurred_at_text IS NULL THEN 'occurred_at'
             WHEN tenant_id IS NULL THEN 'tenant_id'
             WHEN bad_domain THEN 'domain_name'
             WHEN user_id IS NULL THEN 'user_id'
             WHEN event_type IS NULL THEN 'event_type'
             -- beyond 10^12 no quantity is real, and rating arithmetic must not overflow
             WHEN event_value IS NULL OR abs(event_value) >= 1000000000000 THEN 'event_value'
             WHEN event_unit IS NULL THEN 'event_unit'
             WHEN preview IS NULL THEN 'preview'
             WHEN bad_attributes THEN 'attributes'
             WHEN bad_person THEN 'username'
             WHEN abs(input_tokens) >= 1000000000000 THEN 'attributes.input_tokens'
             WHEN abs(output_tokens) >= 1000000000000 THEN 'attributes.output_tokens'
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
    -- attributes are compared apart (rate.sql), keys sorted and numbers by value
    hash(occurred_at, tenant_id, domain_name, user_id, event_type, event_value, event_unit,
         preview, username, first_name, last_name) AS content_hash
FROM r;
SET preserve_insertion_order = true;
