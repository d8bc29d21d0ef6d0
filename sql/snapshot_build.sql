-- snapshot_build.sql: build the analysts' snapshot database from scratch (the first run, a
-- new layout, or a snapshot that missed a run: pipeline/snapshot). Runs on a new, empty
-- DuckDB file of its own, never on the warehouse; later runs apply their deltas to it
-- (snapshot_apply.sql).
-- Inputs: the Parquet files of snapshot_stage.sql (scope: everything) under {{stage}};
-- $1 the layout version of the snapshot, $2 and $3 the number and name of the run it is
-- current with.
-- Outputs: tables data.events (settled lines: outside the open working set) and
-- data.events_open (lines of the working set), data.rated_events (events of final periods)
-- and data.rated_events_open (accepted events of open periods), data.period_usage,
-- data.invoices, data.quarantine: the documented columns, then their keys line_id and
-- obj_no; data.tenants, data.deposits, data.member_caps, data.notifications. The documented
-- views events, rated_events, period_usage, invoices, quarantine, tenants, deposits,
-- member_caps, notifications over them (without the keys); meta.snapshot (layout, run_seq,
-- run_id, data_run).
-- No personal data: users appear by user_id only.
-- The connection has one thread: rows keep the staged files' order.
CREATE SCHEMA data;

CREATE TABLE data.events AS SELECT * FROM read_parquet('{{stage}}/events_settled.parquet');
CREATE TABLE data.events_open AS SELECT * FROM read_parquet('{{stage}}/events_open.parquet');
CREATE TABLE data.rated_events AS SELECT * FROM read_parquet('{{stage}}/rated_final.parquet');
CREATE TABLE data.rated_events_open AS SELECT * FROM read_parquet('{{stage}}/rated_open.parquet');
CREATE TABLE data.period_usage AS SELECT * FROM read_parquet('{{stage}}/period_usage.parquet');
CREATE TABLE data.invoices AS SELECT * FROM read_parquet('{{stage}}/invoices.parquet');
CREATE TABLE data.quarantine AS SELECT * FROM read_parquet('{{stage}}/quarantine.parquet');
CREATE TABLE data.tenants AS SELECT * FROM read_parquet('{{stage}}/tenants.parquet');
CREATE TABLE data.deposits AS SELECT * FROM read_parquet('{{stage}}/deposits.parquet');
CREATE TABLE data.member_caps AS SELECT * FROM read_parquet('{{stage}}/member_caps.parquet');
CREATE TABLE data.notifications AS SELECT * FROM read_parquet('{{stage}}/notifications.parquet');

CREATE VIEW events AS
SELECT * EXCLUDE (line_id) FROM data.events
UNION ALL SELECT * EXCLUDE (line_id) FROM data.events_open;
COMMENT ON VIEW events IS 'Every stored event line (all runs), parsed, without personal data or raw text. status: accepted (billed), quarantined (see reason, field), duplicate (an exact repeat of an earlier line), unbillable (accepted but in no billing period). One row per line, by object_key and line_no.';

CREATE VIEW rated_events AS
SELECT * EXCLUDE (line_id) FROM data.rated_events
UNION ALL SELECT * EXCLUDE (line_id) FROM data.rated_events_open;
COMMENT ON VIEW rated_events IS 'One row per accepted event: credits rated and their split across buckets (allowance units, plan, bank, exceeding, blocked), the billed period (tenant-local dates, end exclusive), rate-card version, reason, and the late flag. As ledger/rated_events.parquet, plus event_type.';

CREATE VIEW period_usage AS SELECT * FROM data.period_usage;
COMMENT ON VIEW period_usage IS 'One row per tenant and billing period, as ledger/period_usage.csv but typed: dates, DECIMAL credits; status open or final; rated_credits is every credit rated in the period.';

CREATE VIEW invoices AS SELECT * FROM data.invoices;
COMMENT ON VIEW invoices IS 'Every issued invoice (invoices/register.csv), with year and gap-free sequence, issue and due dates, the customer invoiced, amount (net: the sum of the lines), tax label, rate and amount, and total_amount (net + tax).';

CREATE VIEW quarantine AS SELECT * EXCLUDE (line_id, obj_no) FROM data.quarantine;
COMMENT ON VIEW quarantine IS 'Every quarantined line: object key, line number, reason and field, and the parsed identifiers when they could be read. The raw text stays in quarantine/{run_id}.jsonl.';

CREATE VIEW tenants AS SELECT * FROM data.tenants;
COMMENT ON VIEW tenants IS 'The configured tenants as of the latest run: name, currency, time zone, billing calendar (period, anchor_day, service_start, service_end), credits plan, overage policy and price per credit (NULL under block), rate card, payment terms in days.';

CREATE VIEW deposits AS SELECT * FROM data.deposits;
COMMENT ON VIEW deposits IS 'Credits-bank deposits as configured in the latest run: tenant, deposit id, credits, the instant from which they fund events (deposited_at).';

CREATE VIEW member_caps AS SELECT * FROM data.member_caps;
COMMENT ON VIEW member_caps IS 'Member caps as configured in the latest run: the credits funded for one user_id over the whole contract at most (0 blocks the member).';

CREATE VIEW notifications AS SELECT * FROM data.notifications;
COMMENT ON VIEW notifications IS 'Every threshold notification (notifications/outbox.jsonl without recipients): crossing, figures, delivery status (pending, sent, failed, suppressed) and status_reason.';

CREATE SCHEMA meta;
CREATE TABLE meta.snapshot (
    layout   INTEGER NOT NULL,   -- the snapshot's layout version: another one is rebuilt
    run_seq  INTEGER NOT NULL,   -- the run whose results it holds
    run_id   VARCHAR NOT NULL,   -- and its name
    data_run INTEGER NOT NULL    -- the last run that changed its rows
);
COMMENT ON TABLE meta.snapshot IS 'Bookkeeping of the incremental snapshot: the warehouse run it is current with (run_seq, run_id) and the last run that changed its data (data_run).';
INSERT INTO meta.snapshot VALUES ($1, $2, $3, $2);
