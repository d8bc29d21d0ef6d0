-- dryrun_invoices.sql: the invoices a run issued, for `creditmeter run --dry-run` (jobs.DryRun
-- reads the throw-away copy of the warehouse the dry run ran against).
-- Inputs: invoices; $1 run_seq. Outputs (rows): invoice_number, tenant_id, period_start,
-- period_end (YYYY-MM-DD, end exclusive), currency, exceeding_credits, net, tax, total (exact
-- decimal text). Sorted by invoice_number.
SELECT invoice_number, tenant_id, strftime(period_start, '%Y-%m-%d'), strftime(period_end, '%Y-%m-%d'),
    currency, CAST(exceeding_credits AS VARCHAR), CAST(amount AS VARCHAR), CAST(tax_amount AS VARCHAR),
    CAST(total_amount AS VARCHAR)
FROM invoices
WHERE issued_run = $1
ORDER BY invoice_number
