-- documents_invoices.sql: the lines of the invoices a run issued (BILLING.md section 7), for
-- the invoice documents invoices/{invoice_number}.xlsx and .csv, rendered once, from the
-- data as it stands when they are issued (pipeline/documents).
-- Inputs: invoices, invoice_lines, cfg_tenants; $1 run_seq.
-- Outputs (rows, one per invoice line): invoice_number, invoice_date, tenant_id, customer,
-- period_start, period_end, currency, line, description, line_period_start,
-- line_period_end, quantity, unit_price (plain decimals), amount, total (2 places), and
-- register_amount (the register's amount: the total); sorted by year, seq, line.
SELECT i.invoice_number, strftime(i.issued_on, '%Y-%m-%d') AS invoice_date, i.tenant_id,
    coalesce(t.tenant_name, i.tenant_id) AS customer,
    strftime(i.period_start, '%Y-%m-%d') AS period_start, strftime(i.period_end, '%Y-%m-%d') AS period_end,
    i.currency, l.line, l.description, strftime(l.line_period_start, '%Y-%m-%d') AS line_period_start,
    strftime(l.line_period_end, '%Y-%m-%d') AS line_period_end,
    fmt_dec(l.quantity) AS quantity, fmt_dec(l.unit_price) AS unit_price,
    CAST(l.amount AS VARCHAR) AS amount, CAST(i.amount AS VARCHAR) AS total,
    CAST(i.amount AS VARCHAR) AS register_amount
FROM invoices i
JOIN invoice_lines l ON l.invoice_number = i.invoice_number
LEFT JOIN cfg_tenants t ON t.tenant_id = i.tenant_id
WHERE i.issued_run = $1
ORDER BY i.year, i.seq, l.line
