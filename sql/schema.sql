-- schema.sql: the warehouse's persistent tables, created when missing.
-- Inputs: none. Outputs: objects, lines, user_directory, runs, final_periods, frozen_events,
-- invoices. These hold the only state carried between runs (BILLING.md section 5).

-- Every ingested object, one row per key (the version last read).
CREATE TABLE IF NOT EXISTS objects (
    key         VARCHAR PRIMARY KEY,
    etag        VARCHAR NOT NULL,   -- S3 ETag, or sha256 of the content for a directory
    size        BIGINT NOT NULL,
    sha256      VARCHAR,            -- of the stored bytes; NULL for skipped objects
    format      VARCHAR NOT NULL,   -- json | csv | parquet | users | skipped
    lines       BIGINT NOT NULL,    -- event lines read (blank lines not counted)
    run_seq     INTEGER NOT NULL    -- run that read this version
);

-- Every non-blank line of every event object, parsed. parse_reason is set when the line
-- fails parsing (malformed, bad_timestamp, negative_value); the fields are NULL then.
CREATE TABLE IF NOT EXISTS lines (
    key           VARCHAR NOT NULL,
    line_no       BIGINT NOT NULL,
    fmt           VARCHAR NOT NULL,
    raw           VARCHAR NOT NULL,
    parse_reason  VARCHAR,
    parse_field   VARCHAR,
    event_id      VARCHAR,
    occurred_at   TIMESTAMPTZ,
    tenant_id     VARCHAR,
    domain_name   VARCHAR,
    user_id       VARCHAR,
    event_type    VARCHAR,
    event_value   DECIMAL(18,6),    -- below 10^12; finer than 6 places is rounded
    event_unit    VARCHAR,
    preview       BOOLEAN,
    attributes    JSON,
    username      VARCHAR,
    first_name    VARCHAR,
    last_name     VARCHAR,
    content_hash  UBIGINT
);

-- The user directory from users/*.csv objects; the last object by key wins per user.
CREATE TABLE IF NOT EXISTS user_directory (
    key         VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    username    VARCHAR,
    first_name  VARCHAR,
    last_name   VARCHAR
);

CREATE TABLE IF NOT EXISTS runs (
    run_seq     INTEGER PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    now         TIMESTAMPTZ NOT NULL,
    status      VARCHAR NOT NULL
);

-- Periods frozen by finalization: their numbers never change again.
CREATE TABLE IF NOT EXISTS final_periods (
    tenant_id            VARCHAR NOT NULL,
    period_start         DATE NOT NULL,
    period_end           DATE NOT NULL,
    credits_plan         DECIMAL(18,4) NOT NULL,
    plan_used            DECIMAL(18,4) NOT NULL,
    bank_used            DECIMAL(18,4) NOT NULL,
    bank_remaining       DECIMAL(18,4) NOT NULL,
    exceeding_credits    DECIMAL(18,4) NOT NULL,
    blocked_credits      DECIMAL(18,4) NOT NULL,
    allowance_units_used DECIMAL(18,4) NOT NULL,
    events               BIGINT NOT NULL,
    finalized_run        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, period_start)
);

-- The events of final periods, as they were funded when their period was finalized.
CREATE TABLE IF NOT EXISTS frozen_events (
    event_id            VARCHAR NOT NULL,   -- unique by construction; no index: it costs seconds per million
    tenant_id           VARCHAR NOT NULL,
    user_id             VARCHAR NOT NULL,
    occurred_at         TIMESTAMPTZ NOT NULL,
    billed_period_start DATE NOT NULL,
    rate_card_version   VARCHAR,
    reason              VARCHAR,
    allowance_pool      VARCHAR,
    rated_e4            BIGINT NOT NULL,
    allowance_e4        BIGINT NOT NULL,
    plan_e4             BIGINT NOT NULL,
    bank_e4             BIGINT NOT NULL,
    exceeding_e4        BIGINT NOT NULL,
    blocked_e4          BIGINT NOT NULL,
    late                BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS invoices (
    invoice_number     VARCHAR PRIMARY KEY,
    year               INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    tenant_id          VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,
    currency           VARCHAR NOT NULL,
    exceeding_credits  DECIMAL(18,4) NOT NULL,
    price_per_credit   DECIMAL(18,6) NOT NULL,
    amount             DECIMAL(18,2) NOT NULL,
    issued_on          DATE NOT NULL,      -- tenant-independent: the date (UTC) of the issuing run
    issued_run         INTEGER NOT NULL
);
