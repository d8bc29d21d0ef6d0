-- config_tables.sql: per-run temporary tables that hold the configuration in relational form.
-- Inputs: none (Go appends the rows from the validated configuration).
-- Outputs: cfg_tenants, cfg_calendar, cfg_rate_versions, cfg_rules, cfg_periods, cfg_pools, cfg_members,
-- cfg_deposits; and the temp macros e4 and e4sum (fixed point at 4 places to DECIMAL), fmt_dec
-- (a decimal written plainly, trailing zeros trimmed), rfc3339 (UTC text), to_dec (text to
-- DECIMAL) and cell (a CSV text cell with spreadsheet formulas neutralised).
-- Every instant is computed and written in UTC, whatever the machine's zone.
SET TimeZone = 'UTC';
CREATE OR REPLACE TEMP TABLE cfg_tenants (
    tenant_no      INTEGER,
    tenant_id      VARCHAR,
    tenant_name    VARCHAR,
    rate_card      VARCHAR,
    timezone       VARCHAR,
    currency       VARCHAR,
    policy         VARCHAR,
    price          DECIMAL(18,6),
    credits_plan   DECIMAL(18,4),
    service_from   TIMESTAMPTZ,   -- service_start, tenant-local midnight
    service_until  TIMESTAMPTZ,   -- local midnight of the day after service_end (exclusive)
    config_digest  VARCHAR,       -- what the tenant's results depend on (pipeline/history)
    horizon_idx    INTEGER,       -- the period containing --now (clamped to the contract)
    -- What an invoice captures when it is issued (finalize.sql; issue 12), and what the
    -- analysts' snapshot lists (pipeline/snapshot). Text as configured; NULL when absent.
    payment_days     INTEGER,       -- payment_terms in days (net 30 when absent)
    customer_name    VARCHAR,       -- customer.legal_name, else the tenant's name, else its id
    customer_address VARCHAR,
    customer_tax_id  VARCHAR,
    po_reference     VARCHAR,
    tax_label        VARCHAR,       -- tax.label; NULL under reverse charge or without tax
    tax_rate         DECIMAL(9,6),  -- tax.rate; 0 under reverse charge or without tax
    tax_note         VARCHAR,       -- tax.reverse_charge
    issuer_name      VARCHAR,       -- the configuration's issuer, the same on every row
    issuer_address   VARCHAR,
    issuer_tax_id    VARCHAR,
    issuer_bank      VARCHAR,       -- "Label: value" lines, newline-separated
    member_caps      VARCHAR        -- JSON [{"user_id": ..., "cap": "decimal text"}], contract order
);
-- The calendar of each tenant as configured (compared with tenant_calendar: BILLING.md 4).
CREATE OR REPLACE TEMP TABLE cfg_calendar (
    tenant_id     VARCHAR,
    timezone      VARCHAR,
    period        VARCHAR,
    anchor_day    INTEGER,
    service_start DATE,
    service_end   DATE
);
CREATE OR REPLACE TEMP TABLE cfg_rate_versions (
    card_id         VARCHAR,
    effective_from  TIMESTAMPTZ,
    effective_until TIMESTAMPTZ,  -- the next version's effective_from, or infinity
    version         VARCHAR       -- card_id@effective_from, as reports show it
);
CREATE OR REPLACE TEMP TABLE cfg_rules (
    card_id         VARCHAR,
    effective_from  TIMESTAMPTZ,
    event_type      VARCHAR,
    kind            VARCHAR,
    credits         DECIMAL(18,4),
    ratio_attribute VARCHAR,
    min_ratio       DECIMAL(18,6),
    per             DECIMAL(18,6),
    rounding        VARCHAR,
    allowance       VARCHAR,
    input_per_1k    DECIMAL(18,10),
    output_per_1k   DECIMAL(18,10)
);
CREATE OR REPLACE TEMP TABLE cfg_periods (
    tenant_no    INTEGER,
    tenant_id    VARCHAR,
    period_idx   INTEGER,
    period_start DATE,
    period_end   DATE,
    start_at     TIMESTAMPTZ,
    end_at       TIMESTAMPTZ,
    was_final    BOOLEAN,   -- final when this run began
    finalize     BOOLEAN,   -- now >= end + grace: final once this run ends
    in_report    BOOLEAN,   -- at or before the period containing --now
    is_current   BOOLEAN    -- the period containing --now (else the last one, or the first)
);
CREATE OR REPLACE TEMP TABLE cfg_pools (
    tenant_id VARCHAR,
    pool      VARCHAR,
    pool_no   INTEGER
);
CREATE OR REPLACE TEMP TABLE cfg_members (
    tenant_id VARCHAR,
    user_id   VARCHAR,
    member_no INTEGER
);
CREATE OR REPLACE TEMP TABLE cfg_deposits (
    tenant_id VARCHAR,
    deposit   VARCHAR,
    credits   DECIMAL(18,4),
    deposit_at TIMESTAMPTZ
);
-- e4 is one event's amount (below 10^14 credits, rate.sql); e4sum a sum of them.
CREATE OR REPLACE TEMP MACRO e4(x) AS CAST(CAST(x AS DECIMAL(18,0)) * 0.0001 AS DECIMAL(18,4));
CREATE OR REPLACE TEMP MACRO e4sum(x) AS CAST(CAST(x AS DECIMAL(38,0)) * 0.0001 AS DECIMAL(38,4));
CREATE OR REPLACE TEMP MACRO fmt_dec(x) AS
    CASE WHEN x = trunc(x) THEN CAST(CAST(trunc(x) AS HUGEINT) AS VARCHAR)
         ELSE rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.') END;
-- rfc3339 relies on the session time zone being UTC (set above).
CREATE OR REPLACE TEMP MACRO rfc3339(ts) AS replace(CAST(CAST(ts AS TIMESTAMP) AS VARCHAR), ' ', 'T') || 'Z';
-- to_dec: text to DECIMAL(18,6), NULL when it is not a number or not below 10^12. Event
-- quantities stay in 64-bit decimals: DuckDB casts text to a 38-digit DECIMAL about 100 times
-- slower, and no real quantity needs more.
CREATE OR REPLACE TEMP MACRO to_dec(x) AS TRY_CAST(x AS DECIMAL(18,6));
-- cell: a text cell of a CSV output; one that a spreadsheet would read as a formula (it starts
-- with =, +, -, @, a tab or a carriage return) gets a leading quote (FORMATS.md, "Text cells").
CREATE OR REPLACE TEMP MACRO cell(x) AS
    CASE WHEN left(x, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || x ELSE x END;
