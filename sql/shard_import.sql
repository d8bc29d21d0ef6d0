-- shard_import.sql: a shard takes back the numbers the close step gave its invoices: each
-- provisional invoice (shard_provisional.sql) goes into invoices and invoice_lines under its
-- number, as a single machine would have issued it, for explain and the shard's own
-- snapshot; the provisional rows go.
-- Inputs: shard_invoices, shard_invoice_lines, shard_assign.
-- Outputs: invoices, invoice_lines; shard_invoices, shard_invoice_lines (assigned rows removed).
CREATE OR REPLACE TEMP TABLE shard_numbered AS
SELECT s.invoice_number AS provisional, s.round_id, a.invoice_number, a.seq
FROM shard_invoices s
JOIN shard_assign a ON a.round_id = s.round_id AND a.tenant_id = s.tenant_id AND a.period_start = s.period_start;
INSERT INTO invoices
SELECT s.* EXCLUDE (round_id) REPLACE (n.invoice_number AS invoice_number, n.seq AS seq)
FROM shard_invoices s JOIN shard_numbered n ON n.provisional = s.invoice_number AND n.round_id = s.round_id
ORDER BY n.invoice_number;
INSERT INTO invoice_lines
SELECT l.* EXCLUDE (round_id) REPLACE (n.invoice_number AS invoice_number)
FROM shard_invoice_lines l JOIN shard_numbered n ON n.provisional = l.invoice_number AND n.round_id = l.round_id
ORDER BY n.invoice_number, l.line;
DELETE FROM shard_invoice_lines WHERE (round_id, invoice_number) IN (SELECT (round_id, provisional) FROM shard_numbered);
DELETE FROM shard_invoices WHERE (round_id, invoice_number) IN (SELECT (round_id, provisional) FROM shard_numbered);
