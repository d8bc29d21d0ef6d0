-- schema.sql: the warehouse's persistent tables, created when missing (schema version 2).
-- Inputs: none. Outputs: meta, objects, lines, pending, dup_lines, frozen_events, periods,
-- closing, closing_pools, closing_users, tenant_state, tenant_calendar, dirty_tenants,
-- qlog, invoices, documents, outputs, runs.
-- These hold the only state carried between runs (BILLING.md section 5). A line is read and
-- parsed once, when its object is loaded; final periods are carried forward by their
-- closing balances (closing*) and never read again; a run works on the open working set
-- (pending) of the tenants that changed.

CREATE TABLE IF NOT EXISTS meta (
    name  VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- Every version of every object read. One current row per key (status read, unreadable or
-- skipped); a version replaced by a new ETag keeps its row (status replaced) because its
-- lines billed in final periods stand (BILLING.md section 5).
CREATE TABLE IF NOT EXISTS objects (
    obj_no   INTEGER NOT NULL,   -- increasing; lines refer to it
    key      VARCHAR NOT NULL,   -- the key as shown (invalid UTF-8 escaped as \xNN)
    etag     VARCHAR NOT NULL,
    size     BIGINT NOT NULL,
    sha256   VARCHAR,            -- of the stored bytes
    format   VARCHAR NOT NULL,   -- json | csv | parquet | users | skipped
    status   VARCHAR NOT NULL,   -- read | unreadable | skipped | replaced
    reason   VARCHAR,            -- unreadable: unreadable_object
    detail   VARCHAR,            -- unreadable: why, in words (no content)
    lines    BIGINT NOT NULL,    -- event lines read (blank lines not counted)
    run_seq  INTEGER NOT NULL    -- the run that read this version
);

-- Every non-blank line of every event object, parsed once (pipeline/parse). status is what
-- loading found: event (the first line of its identity: its fate is in pending or
-- frozen_events), duplicate (an exact repeat of the first), quarantined (parse failure or
-- conflicting duplicate: reason, field). raw is the line as read: personal data.
CREATE TABLE IF NOT EXISTS lines (
    line_id       BIGINT NOT NULL,   -- obj_no << 32 | line_no
    obj_no        INTEGER NOT NULL,
    line_no       BIGINT NOT NULL,
    raw           VARCHAR NOT NULL,
    parse_reason  VARCHAR,
    parse_field   VARCHAR,
    parse_detail  VARCHAR,
    event_id      VARCHAR,
    occurred_at   TIMESTAMPTZ,
    tenant_id     VARCHAR,
    domain_name   VARCHAR,
    user_id       VARCHAR,
    event_type    VARCHAR,
    event_value   DECIMAL(18,6),
    event_unit    VARCHAR,
    preview       BOOLEAN,
    attributes    VARCHAR,           -- canonical JSON text
    username      VARCHAR,
    first_name    VARCHAR,
    last_name     VARCHAR,
    digest        BLOB,              -- the product's content digest (pipeline/parse)
    status        VARCHAR NOT NULL,  -- event | duplicate | quarantined
    reason        VARCHAR,
    field         VARCHAR
);

-- The open working set: the first line of every identity (tenant_id, event_id) that is not
-- billed in a final period, with its latest validation and funding. reason is NULL for an
-- accepted event, else its quarantine reason (reconsidered every run). A copy of the fields
-- the run needs, so that runs never scan lines.
CREATE TABLE IF NOT EXISTS pending (
    line_id             BIGINT NOT NULL,
    obj_no              INTEGER NOT NULL,
    key                 VARCHAR NOT NULL,   -- for "first object by key" and reports
    line_no             BIGINT NOT NULL,
    tenant_id           VARCHAR NOT NULL,
    event_id            VARCHAR NOT NULL,
    digest              BLOB NOT NULL,
    occurred_at         TIMESTAMPTZ NOT NULL,
    domain_name         VARCHAR,
    user_id             VARCHAR NOT NULL,
    event_type          VARCHAR NOT NULL,
    event_value         DECIMAL(18,6) NOT NULL,
    event_unit          VARCHAR NOT NULL,
    preview             BOOLEAN NOT NULL,
    attributes          VARCHAR,
    username            VARCHAR,
    first_name          VARCHAR,
    last_name           VARCHAR,
    validated_run       INTEGER,            -- NULL: never validated yet
    reason              VARCHAR,
    field               VARCHAR,
    billed_period_start DATE,               -- accepted: the period that bills it
    late                BOOLEAN,
    rate_card_version   VARCHAR,
    rate_reason         VARCHAR,            -- preview | free_feature | below_threshold
    allowance_pool      VARCHAR,
    rated_e4            BIGINT,
    allowance_e4        BIGINT,
    plan_e4             BIGINT,
    bank_e4             BIGINT,
    exceeding_e4        BIGINT,
    blocked_e4          BIGINT
);

-- Parsed lines that are not the first of their identity (duplicates, exact or not), kept
-- apart so that a change of "first" (an earlier key arriving, an object replaced) re-ranks
-- an identity without reading lines.
CREATE TABLE IF NOT EXISTS dup_lines (
    line_id   BIGINT NOT NULL,
    tenant_id VARCHAR NOT NULL,
    event_id  VARCHAR NOT NULL,
    digest    BLOB NOT NULL,
    key       VARCHAR NOT NULL,
    line_no   BIGINT NOT NULL
);

-- Events billed in final periods, as they were funded: they stand whatever arrives later.
CREATE TABLE IF NOT EXISTS frozen_events (
    line_id             BIGINT NOT NULL,
    tenant_id           VARCHAR NOT NULL,
    event_id            VARCHAR NOT NULL,
    digest              BLOB NOT NULL,
    user_id             VARCHAR NOT NULL,
    event_type          VARCHAR NOT NULL,
    occurred_at         TIMESTAMPTZ NOT NULL,
    billed_period_start DATE NOT NULL,
    billed_period_end   DATE NOT NULL,
    late                BOOLEAN NOT NULL,
    rate_card_version   VARCHAR,
    reason              VARCHAR,
    allowance_pool      VARCHAR,
    rated_e4            BIGINT NOT NULL,
    allowance_e4        BIGINT NOT NULL,
    plan_e4             BIGINT NOT NULL,
    bank_e4             BIGINT NOT NULL,
    exceeding_e4        BIGINT NOT NULL,
    blocked_e4          BIGINT NOT NULL,
    finalized_run       INTEGER NOT NULL,
    -- what the reports of a final period show of the event, kept with it so that they never
    -- read lines again
    domain_name         VARCHAR,
    event_value         DECIMAL(18,6) NOT NULL,
    event_unit          VARCHAR NOT NULL
);

-- One row per tenant and reported period: final rows never change; open rows are
-- rewritten by the runs that recompute their tenant. ledger/period_usage.csv is this table.
-- Sums are 38-digit decimals: one event is below 10^14 credits, a period's sum need not be.
CREATE TABLE IF NOT EXISTS periods (
    tenant_id            VARCHAR NOT NULL,
    period_idx           INTEGER NOT NULL,
    period_start         DATE NOT NULL,
    period_end           DATE NOT NULL,
    status               VARCHAR NOT NULL,   -- open | final
    credits_plan         DECIMAL(38,4) NOT NULL,
    plan_used            DECIMAL(38,4) NOT NULL,
    bank_used            DECIMAL(38,4) NOT NULL,
    bank_remaining       DECIMAL(38,4) NOT NULL,
    exceeding_credits    DECIMAL(38,4) NOT NULL,
    blocked_credits      DECIMAL(38,4) NOT NULL,
    allowance_units_used DECIMAL(38,4) NOT NULL,
    events               BIGINT NOT NULL,
    rated_credits        DECIMAL(38,4) NOT NULL,
    computed_run         INTEGER NOT NULL,
    finalized_run        INTEGER
);

-- Every version of every ledger row, by the run that wrote it (only rows that changed), for
-- `creditmeter diff`; kept at least 90 days.
CREATE TABLE IF NOT EXISTS period_log (
    run_seq              INTEGER NOT NULL,
    tenant_id            VARCHAR NOT NULL,
    period_start         DATE NOT NULL,
    period_end           DATE NOT NULL,
    status               VARCHAR NOT NULL,
    credits_plan         DECIMAL(38,4) NOT NULL,
    plan_used            DECIMAL(38,4) NOT NULL,
    bank_used            DECIMAL(38,4) NOT NULL,
    bank_remaining       DECIMAL(38,4) NOT NULL,
    exceeding_credits    DECIMAL(38,4) NOT NULL,
    blocked_credits      DECIMAL(38,4) NOT NULL,
    allowance_units_used DECIMAL(38,4) NOT NULL,
    events               BIGINT NOT NULL,
    rated_credits        DECIMAL(38,4) NOT NULL
);

-- Why a run recomputed a tenant, with counts: new_events (accepted lines first read by the
-- run), loading (accepted lines gone with a replaced object or displaced by an earlier key,
-- or a user directory changed), late_events
-- (billed by the run in a later period than their own), reconsidered (quarantined lines
-- accepted now, or accepted ones quarantined now), finalized (periods the run finalized),
-- configuration (the tenant's configuration digest changed), period_started (--now entered
-- another period). For `creditmeter diff`.
CREATE TABLE IF NOT EXISTS run_causes (
    run_seq   INTEGER NOT NULL,
    tenant_id VARCHAR NOT NULL,
    cause     VARCHAR NOT NULL,
    n         BIGINT NOT NULL
);

-- Closing balances of a tenant's final periods (BILLING.md section 5): what later periods
-- need from them. Sums over every final period.
CREATE TABLE IF NOT EXISTS closing (
    tenant_id    VARCHAR PRIMARY KEY,
    bank_used_e4 BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS closing_pools (
    tenant_id VARCHAR NOT NULL,
    pool      VARCHAR NOT NULL,
    used_e4   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pool)
);
-- Funded credits (plan + bank + exceeding) per user: a member cap added later still counts
-- what the member was funded before (caps run over the whole contract).
CREATE TABLE IF NOT EXISTS closing_users (
    tenant_id VARCHAR NOT NULL,
    user_id   VARCHAR NOT NULL,
    funded_e4 HUGEINT NOT NULL,   -- exceeding has no bound: a sum of many events
    PRIMARY KEY (tenant_id, user_id)
);

-- What a tenant's outputs were last computed from: a change makes the tenant's open periods
-- be recomputed and its documents rendered again.
CREATE TABLE IF NOT EXISTS tenant_state (
    tenant_id     VARCHAR PRIMARY KEY,
    config_digest VARCHAR NOT NULL,
    horizon_idx   INTEGER NOT NULL,   -- the period containing --now (clamped)
    computed_run  INTEGER NOT NULL
);

-- A tenant's calendar as its final periods were computed: a configuration that would move
-- or remove a final period is refused (BILLING.md section 4).
CREATE TABLE IF NOT EXISTS tenant_calendar (
    tenant_id     VARCHAR PRIMARY KEY,
    timezone      VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    anchor_day    INTEGER NOT NULL,
    service_start DATE NOT NULL,
    service_end   DATE NOT NULL
);

-- Tenants whose accepted events changed since they were last computed (set by loading,
-- cleared by the run that recomputes them, in the same transaction as its results).
CREATE TABLE IF NOT EXISTS dirty_tenants (
    tenant_id VARCHAR PRIMARY KEY
);

-- Lines newly quarantined or moved to another reason, and unreadable objects, until a
-- quarantine file lists them (quarantine/{run_id}.jsonl).
CREATE TABLE IF NOT EXISTS qlog (
    line_id    BIGINT,              -- NULL for an unreadable object
    obj_no     INTEGER NOT NULL,
    line_no    BIGINT,
    tenant_id  VARCHAR,
    event_id   VARCHAR,
    reason     VARCHAR NOT NULL,
    field      VARCHAR,
    detail     VARCHAR,
    logged_run INTEGER NOT NULL,
    file_run   INTEGER              -- the run whose quarantine file lists it
);

CREATE TABLE IF NOT EXISTS invoices (
    invoice_number     VARCHAR PRIMARY KEY,
    year               INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    tenant_id          VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,
    currency           VARCHAR NOT NULL,
    exceeding_credits  DECIMAL(38,4) NOT NULL,
    price_per_credit   DECIMAL(18,6) NOT NULL,
    amount             DECIMAL(38,2) NOT NULL,   -- the invoice total: the sum of its rounded lines
    issued_on          DATE NOT NULL,            -- the date (UTC) of the issuing run
    issued_run         INTEGER NOT NULL,
    -- What the invoice shows besides its lines, captured from the configuration when it is
    -- issued and never changed (BILLING.md section 7; issue 12). Money at 2 places, each
    -- rounded half-up once: tax_amount = round(amount * tax_rate, 2), total_amount =
    -- amount + tax_amount.
    due_date           DATE NOT NULL,            -- issued_on + payment_days
    payment_days       INTEGER NOT NULL,
    customer_name      VARCHAR NOT NULL,         -- the legal name invoiced
    customer_address   VARCHAR,
    customer_tax_id    VARCHAR,
    po_reference       VARCHAR,
    tax_label          VARCHAR,                  -- NULL: no tax, or reverse charge (tax_note)
    tax_rate           DECIMAL(9,6) NOT NULL,
    tax_note           VARCHAR,                  -- the reverse-charge note
    tax_amount         DECIMAL(38,2) NOT NULL,
    total_amount       DECIMAL(38,2) NOT NULL,
    issuer_name        VARCHAR,
    issuer_address     VARCHAR,
    issuer_tax_id      VARCHAR,
    issuer_bank        VARCHAR                   -- "Label: value" lines, newline-separated
);

-- The lines of every issued invoice (BILLING.md section 7), as issued.
CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_number     VARCHAR NOT NULL,
    line               INTEGER NOT NULL,
    description        VARCHAR NOT NULL,
    line_period_start  DATE NOT NULL,
    line_period_end    DATE NOT NULL,     -- exclusive
    quantity           DECIMAL(38,4) NOT NULL,
    unit_price         DECIMAL(18,6) NOT NULL,
    amount             DECIMAL(38,2) NOT NULL
);

-- Documents rendered once (an invoice's XLSX and CSV, BILLING.md section 7): stored here
-- when issued and published from these bytes, never rendered again.
CREATE TABLE IF NOT EXISTS documents (
    key      VARCHAR PRIMARY KEY,
    sha256   VARCHAR NOT NULL,
    content  BLOB NOT NULL,
    run_seq  INTEGER NOT NULL
);

-- Every current output with its checksum. A run renders what changed into an outbox beside
-- the warehouse, records it here (published false) in the transaction of its results, then
-- uploads; a run that died after committing leaves its outputs for the next run to upload.
CREATE TABLE IF NOT EXISTS outputs (
    key       VARCHAR PRIMARY KEY,
    sha256    VARCHAR NOT NULL,
    bytes     BIGINT NOT NULL,
    run_seq   INTEGER NOT NULL,   -- the run that rendered this content
    published BOOLEAN NOT NULL,
    final     BOOLEAN NOT NULL    -- written once, never again (invoices, final usage reports)
);

CREATE TABLE IF NOT EXISTS runs (
    run_seq     INTEGER PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    now         TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    status      VARCHAR NOT NULL   -- started | committed | succeeded | failed
);

INSERT OR IGNORE INTO meta VALUES ('schema_version', '3');

-- The user directory from users/*.csv objects; the last object by key wins per user.
CREATE TABLE IF NOT EXISTS user_directory (
    obj_no      INTEGER NOT NULL,
    key         VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    username    VARCHAR,
    first_name  VARCHAR,
    last_name   VARCHAR
);
