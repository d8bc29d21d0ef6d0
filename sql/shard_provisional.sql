-- shard_provisional.sql: a shard of a sharded round numbers no invoice (README, "Past one
-- machine"): the invoices finalize.sql issued in this run leave invoices and invoice_lines for
-- shard_invoices and shard_invoice_lines, keyed by (tenant_id, period_start) and the round,
-- with everything they captured at issue. The close step numbers them gap-free across every
-- shard (BILLING.md section 7) and the shard takes the numbers back at its next start
-- (shard_import.sql). The provisional number finalize.sql gave them is the shard's alone.
-- Inputs: invoices, invoice_lines; $1 run_seq, $2 the round id.
-- Outputs: shard_invoices, shard_invoice_lines (created when missing: the columns of
-- invoices and invoice_lines, then round_id); the run's rows of invoices and invoice_lines
-- removed.
CREATE TABLE IF NOT EXISTS shard_invoices AS
SELECT *, CAST(NULL AS VARCHAR) AS round_id FROM invoices LIMIT 0;
CREATE TABLE IF NOT EXISTS shard_invoice_lines AS
SELECT *, CAST(NULL AS VARCHAR) AS round_id FROM invoice_lines LIMIT 0;
INSERT INTO shard_invoices SELECT *, CAST($2 AS VARCHAR) FROM invoices WHERE issued_run = $1;
INSERT INTO shard_invoice_lines
SELECT l.*, CAST($2 AS VARCHAR) FROM invoice_lines l
WHERE l.invoice_number IN (SELECT invoice_number FROM invoices WHERE issued_run = $1);
DELETE FROM invoice_lines WHERE invoice_number IN (SELECT invoice_number FROM invoices WHERE issued_run = $1);
DELETE FROM invoices WHERE issued_run = $1;
