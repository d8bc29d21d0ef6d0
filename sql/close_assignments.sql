-- close_assignments.sql: the numbers the close step of a round gave its invoices, for the
-- shards to take back (assignments.json, shard_import.sql).
-- Inputs: invoices; $1 the round's number. Output: tenant_id, period_start (YYYY-MM-DD),
-- invoice_number, year, seq.
SELECT tenant_id, strftime(period_start, '%Y-%m-%d'), invoice_number, year, seq
FROM invoices WHERE issued_run = $1 ORDER BY year, seq
