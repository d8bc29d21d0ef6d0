-- explain_invoice.sql: the invoice of a billed period and the line that bills an event's
-- exceeding credits (BILLING.md section 7: the period's own events on "Exceeding AI
-- credits", late events on the "Late usage from ..." line of their original period), for
-- `creditmeter explain`.
-- Inputs: invoices, invoice_lines, runs; $1 tenant_id, $2 billed period_start, $3 the
-- event's own period_start (the billed one unless the event is late), all YYYY-MM-DD.
-- Output: at most one row: invoice_number, currency, the invoice's amount, the id of the run
-- that issued it, issued_on, and the line (NULL when no line covers that period): line
-- number, description, quantity, unit_price, amount. Decimals as text.
SELECT i.invoice_number, i.currency, CAST(i.amount AS VARCHAR), r.run_id,
    strftime(i.issued_on, '%Y-%m-%d'), il.line, il.description, CAST(il.quantity AS VARCHAR),
    CAST(il.unit_price AS VARCHAR), CAST(il.amount AS VARCHAR)
FROM invoices i
LEFT JOIN invoice_lines il ON il.invoice_number = i.invoice_number AND il.line_period_start = $3::DATE
LEFT JOIN runs r ON r.run_seq = i.issued_run
WHERE i.tenant_id = $1 AND i.period_start = $2::DATE
ORDER BY il.line
LIMIT 1
