-- snapshot_build.sql: build the analysts' snapshot database (analytics/warehouse.duckdb).
-- Runs on a new, empty DuckDB file of its own, never on the warehouse.
-- Inputs: the Parquet files of snapshot_export.sql under {{stage}}.
-- Outputs: tables data.events, data.rated_events, data.period_usage, data.invoices,
-- data.quarantine and the documented views events, rated_events, period_usage, invoices,
-- quarantine over them. No personal data: users appear by user_id only.
-- The connection has one thread: rows keep the staged files' order.
CREATE SCHEMA data;

CREATE TABLE data.events AS SELECT * FROM read_parquet('{{stage}}/events.parquet');
CREATE TABLE data.rated_events AS SELECT * FROM read_parquet('{{stage}}/rated_events.parquet');
CREATE TABLE data.period_usage AS SELECT * FROM read_parquet('{{stage}}/period_usage.parquet');
CREATE TABLE data.invoices AS SELECT * FROM read_parquet('{{stage}}/invoices.parquet');
CREATE TABLE data.quarantine AS SELECT * FROM read_parquet('{{stage}}/quarantine.parquet');

CREATE VIEW events AS SELECT * FROM data.events;
COMMENT ON VIEW events IS 'Every stored event line (all runs), parsed, without personal data or raw text. status: accepted (billed), quarantined (see reason, field), duplicate (an exact repeat of an earlier line), unbillable (accepted but in no billing period). One row per line, by object_key and line_no.';

CREATE VIEW rated_events AS SELECT * FROM data.rated_events;
COMMENT ON VIEW rated_events IS 'One row per accepted event: credits rated and their split across buckets (allowance units, plan, bank, exceeding, blocked), the billed period (tenant-local dates, end exclusive), rate-card version, reason, and the late flag. As ledger/rated_events.parquet, plus event_type.';

CREATE VIEW period_usage AS SELECT * FROM data.period_usage;
COMMENT ON VIEW period_usage IS 'One row per tenant and billing period, as ledger/period_usage.csv but typed: dates, DECIMAL credits; status open or final; rated_credits is every credit rated in the period.';

CREATE VIEW invoices AS SELECT * FROM data.invoices;
COMMENT ON VIEW invoices IS 'Every issued invoice (invoices/register.csv), with year and gap-free sequence, issue date.';

CREATE VIEW quarantine AS SELECT * FROM data.quarantine;
COMMENT ON VIEW quarantine IS 'Every quarantined line: object key, line number, reason and field, and the parsed identifiers when they could be read. The raw text stays in quarantine/{run_id}.jsonl.';
