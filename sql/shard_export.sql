-- shard_export.sql: what a shard hands to the close step of its round (README, "Past one
-- machine"), as typed Parquet: its ledger rows, its notifications with their delivery state,
-- its provisional invoices of the round, and its outputs with the run that wrote each.
-- Inputs: periods, notifications, shard_invoices, shard_invoice_lines, outputs, runs;
-- {{dir}} the export directory; $1 the round id.
-- Outputs: {{dir}}/periods.parquet, notifications.parquet, invoices.parquet,
-- invoice_lines.parquet (with invoice_tenant, invoice_period_start), outputs.parquet.
COPY (SELECT * FROM periods ORDER BY tenant_id, period_start)
TO '{{dir}}/periods.parquet' (FORMAT parquet);
COPY (SELECT * FROM notifications ORDER BY tenant_id, period_start, threshold)
TO '{{dir}}/notifications.parquet' (FORMAT parquet);
COPY (SELECT * EXCLUDE (round_id) FROM shard_invoices WHERE round_id = $1 ORDER BY tenant_id, period_start)
TO '{{dir}}/invoices.parquet' (FORMAT parquet);
-- lines with their invoice's key: provisional numbers are the shard's alone
COPY (SELECT l.* EXCLUDE (round_id), i.tenant_id AS invoice_tenant, i.period_start AS invoice_period_start
      FROM shard_invoice_lines l JOIN shard_invoices i ON i.invoice_number = l.invoice_number AND i.round_id = l.round_id
      WHERE l.round_id = $1 ORDER BY i.tenant_id, i.period_start, l.line)
TO '{{dir}}/invoice_lines.parquet' (FORMAT parquet);
COPY (SELECT o.key, o.sha256, o.bytes, r.run_id FROM outputs o JOIN runs r ON r.run_seq = o.run_seq ORDER BY o.key)
TO '{{dir}}/outputs.parquet' (FORMAT parquet);
