-- documents_invoices.sql: the lines of the invoices a run issued (BILLING.md section 7), for
-- the invoice documents invoices/{invoice_number}.xlsx and .csv, rendered once, from the
-- data as it stands when they are issued (pipeline/documents). Everything but the lines
-- comes from the invoice's own row, captured at issue (finalize.sql): customer, terms, tax,
-- issuer and its bank.
-- Inputs: invoices, invoice_lines; $1 run_seq.
-- Outputs (rows, one per invoice line): invoice_number, invoice_date, due_date,
-- payment_days, tenant_id, customer_name, customer_address, customer_tax_id, po_reference,
-- period_start, period_end (end exclusive), currency, line, description,
-- line_period_start, line_period_end (exclusive), quantity, unit_price (plain decimals),
-- amount (2 places), net_amount, tax_label, tax_rate (plain), tax_note, tax_amount,
-- total_amount (2 places), issuer_name, issuer_address, issuer_tax_id, issuer_bank (text
-- or ''); sorted by year, seq, line.
SELECT i.invoice_number, strftime(i.issued_on, '%Y-%m-%d') AS invoice_date,
    strftime(i.due_date, '%Y-%m-%d') AS due_date, i.payment_days, i.tenant_id, i.customer_name,
    coalesce(i.customer_address, '') AS customer_address, coalesce(i.customer_tax_id, '') AS customer_tax_id,
    coalesce(i.po_reference, '') AS po_reference,
    strftime(i.period_start, '%Y-%m-%d') AS period_start, strftime(i.period_end, '%Y-%m-%d') AS period_end,
    i.currency, l.line, l.description, strftime(l.line_period_start, '%Y-%m-%d') AS line_period_start,
    strftime(l.line_period_end, '%Y-%m-%d') AS line_period_end,
    fmt_dec(l.quantity) AS quantity, fmt_dec(l.unit_price) AS unit_price,
    CAST(l.amount AS VARCHAR) AS amount, CAST(i.amount AS VARCHAR) AS net_amount,
    coalesce(i.tax_label, '') AS tax_label, fmt_dec(i.tax_rate) AS tax_rate, coalesce(i.tax_note, '') AS tax_note,
    CAST(i.tax_amount AS VARCHAR) AS tax_amount, CAST(i.total_amount AS VARCHAR) AS total_amount,
    coalesce(i.issuer_name, '') AS issuer_name, coalesce(i.issuer_address, '') AS issuer_address,
    coalesce(i.issuer_tax_id, '') AS issuer_tax_id, coalesce(i.issuer_bank, '') AS issuer_bank
FROM invoices i
JOIN invoice_lines l ON l.invoice_number = i.invoice_number
WHERE i.issued_run = $1
ORDER BY i.year, i.seq, l.line
