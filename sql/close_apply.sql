-- close_apply.sql: the close step of a sharded round (README, "Past one machine") takes the
-- shards' ledgers and notifications as they stand and numbers the invoices they issued in
-- this round: gap-free per year, continuing the fleet's sequence, in the order of BILLING.md
-- section 7 (tenant-local period_end date, tenant_id), as finalize.sql numbers them on a
-- single machine. An invoice keeps everything its shard captured at issue.
-- Inputs: close_periods, close_notifications, close_invoices, close_invoice_lines (views
-- over every shard's exports), invoices; $1 the round's number (issued_run).
-- Outputs: periods and notifications (replaced: every tenant's rows), invoices,
-- invoice_lines (the round's invoices added).
DELETE FROM periods;
INSERT INTO periods SELECT * FROM close_periods ORDER BY tenant_id, period_start;
DELETE FROM notifications;
INSERT INTO notifications SELECT * FROM close_notifications ORDER BY tenant_id, period_start, threshold;
CREATE OR REPLACE TEMP TABLE close_numbered AS
SELECT p.tenant_id, p.period_start, p.year,
    coalesce((SELECT max(i.seq) FROM invoices i WHERE i.year = p.year), 0)
        + row_number() OVER (PARTITION BY p.year ORDER BY p.period_end, p.tenant_id) AS seq
FROM close_invoices p;
INSERT INTO invoices
SELECT p.* REPLACE (printf('INV-%04d-%06d', n.year, n.seq) AS invoice_number, CAST(n.seq AS INTEGER) AS seq,
    CAST($1 AS INTEGER) AS issued_run)
FROM close_invoices p JOIN close_numbered n ON n.tenant_id = p.tenant_id AND n.period_start = p.period_start
ORDER BY n.year, n.seq;
INSERT INTO invoice_lines
SELECT l.* EXCLUDE (invoice_tenant, invoice_period_start) REPLACE (printf('INV-%04d-%06d', n.year, n.seq) AS invoice_number)
FROM close_invoice_lines l JOIN close_numbered n ON n.tenant_id = l.invoice_tenant AND n.period_start = l.invoice_period_start
ORDER BY n.year, n.seq, l.line;
