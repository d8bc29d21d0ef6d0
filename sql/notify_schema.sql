-- notify_schema.sql: the persistent table of threshold notifications (BILLING.md section 6),
-- created when missing. Run by pipeline/notify before it reads or writes the table.
-- Inputs: none. Outputs: notifications, notify_delivery.
-- One row per (tenant, period, threshold), ever: a row is inserted the first time a run sees
-- the crossing and its crossing facts never change afterwards; only the delivery columns
-- (status, attempts, last_error, last_attempt_at, sent_at, emails, status_reason) are
-- updated, by delivery and by the run that first enables it (status suppressed). Run-out
-- notifications (kind runout) share the table and its delivery.
CREATE TABLE IF NOT EXISTS notifications (
    tenant_id          VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,          -- exclusive, tenant-local
    threshold          DECIMAL(18,6) NOT NULL,
    crossed_at         TIMESTAMPTZ NOT NULL,   -- occurred_at of the event that reached it
    event_id           VARCHAR NOT NULL,
    credits_plan       DECIMAL(18,4) NOT NULL,
    bank_at_start      DECIMAL(18,4) NOT NULL, -- bank balance at the period start
    deposits_in_period DECIMAL(18,4) NOT NULL, -- deposits dated inside the period
    credits_limit      DECIMAL(18,4) NOT NULL, -- the three above: the denominator
    credits_used       DECIMAL(38,4) NOT NULL, -- plan + bank + exceeding up to and with the event
    credits_left       DECIMAL(38,4) NOT NULL, -- max(limit - used, 0)
    utilization        DECIMAL(38,4),          -- used / limit, 4 places half-up; NULL when limit is 0
    tenant_name        VARCHAR NOT NULL,
    policy             VARCHAR NOT NULL,       -- bill | block
    price_per_credit   DECIMAL(18,6),          -- bill only
    currency           VARCHAR,
    emails             VARCHAR NOT NULL,       -- recipients, space separated ('' when none)
    recorded_run       INTEGER NOT NULL,
    status             VARCHAR NOT NULL,       -- pending | sent | failed
    attempts           INTEGER NOT NULL,
    last_error         VARCHAR,
    last_attempt_at    TIMESTAMPTZ,
    sent_at            TIMESTAMPTZ,
    status_reason      VARCHAR,                -- why a notification is suppressed (never sent)
    -- issue 11: what the notification is about. utilization: a threshold of BILLING.md
    -- section 6 was reached. runout: the period's forecast (pipeline/forecast) says its
    -- credits (plan and bank) run out within notify.runout_within of the latest usage
    -- counted, or have run out; one per period, keyed by threshold 0 (thresholds are > 0),
    -- crossed_at and event_id being the latest usage the forecast counted.
    kind               VARCHAR DEFAULT 'utilization',
    runs_out_on        DATE,                   -- runout: the tenant-local day the credits run out
    runout_within      VARCHAR,                -- runout: the window configured, as written (7d)
    PRIMARY KEY (tenant_id, period_start, threshold)
);
-- A warehouse from before status_reason, or before the run-out notifications, gets the
-- columns (NULL: no reason; the notifications it has are utilization ones).
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS status_reason VARCHAR;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'utilization';
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS runs_out_on DATE;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS runout_within VARCHAR;

-- When e-mail delivery was first enabled (a run with an smtp: block): notifications of
-- periods that were final by then are suppressed, not sent (notify_enable.sql). One row, ever.
CREATE TABLE IF NOT EXISTS notify_delivery (
    enabled_run INTEGER NOT NULL   -- the first run whose configuration had smtp:
);
