-- shard_assign.sql: the invoice numbers the close step assigned (assignments.json of the
-- rounds whose provisional invoices a shard still holds), appended by Go.
-- Inputs: none. Outputs (temp): shard_assign, empty.
CREATE TABLE IF NOT EXISTS shard_invoices AS
SELECT *, CAST(NULL AS VARCHAR) AS round_id FROM invoices LIMIT 0;
CREATE TABLE IF NOT EXISTS shard_invoice_lines AS
SELECT *, CAST(NULL AS VARCHAR) AS round_id FROM invoice_lines LIMIT 0;
CREATE OR REPLACE TEMP TABLE shard_assign (
    round_id       VARCHAR,
    tenant_id      VARCHAR,
    period_start   DATE,
    invoice_number VARCHAR,
    year           INTEGER,
    seq            INTEGER
);
