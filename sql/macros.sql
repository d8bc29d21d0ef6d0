-- macros.sql: helpers shared by the per-run SQL.
-- Inputs: none. Outputs: temp macros e4 (fixed-point BIGINT at 4 places to DECIMAL),
-- fmt_dec (a decimal written plainly, trailing zeros trimmed) and rfc3339 (UTC text).
CREATE OR REPLACE TEMP MACRO e4(x) AS CAST(CAST(x AS DECIMAL(18,0)) * 0.0001 AS DECIMAL(18,4));
CREATE OR REPLACE TEMP MACRO fmt_dec(x) AS
    CASE WHEN contains(CAST(x AS VARCHAR), '.')
         THEN rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.')
         ELSE CAST(x AS VARCHAR) END;
CREATE OR REPLACE TEMP MACRO rfc3339(ts) AS
    CASE WHEN microsecond(ts) % 1000000 = 0
         THEN strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
         ELSE strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') END;
