-- documents_drafts.sql: the lines of the draft invoices of the recomputed tenants (issue 11):
-- every open period reported that would be invoiced if it closed now (policy bill, exceeding
-- credits above 0; BILLING.md section 7), computed as finalize.sql computes an invoice, but
-- with no number, no issue date and no due date, and nothing kept. Rendered by
-- pipeline/documents into invoices/drafts/{tenant}_{period_start}.csv and .xlsx, replaced
-- whenever they change and removed once the period is final.
-- Inputs: period_calc, rated_events, cfg_periods, cfg_tenants, dirty.
-- Outputs (rows, one per draft line), in the columns of documents_invoices.sql:
-- invoice_number (''), invoice_date (''), due_date (''), payment_days, tenant_id,
-- customer_name, customer_address, customer_tax_id, po_reference, period_start, period_end
-- (end exclusive), currency, line, description, line_period_start, line_period_end,
-- quantity, unit_price, amount, net_amount, tax_label, tax_rate, tax_note, tax_amount,
-- total_amount, issuer_name, issuer_address, issuer_tax_id, issuer_bank. Sorted by
-- tenant_id, period_start, line.
WITH due AS (
    SELECT pc.tenant_no, pc.tenant_id, pc.period_idx, pc.period_start, pc.period_end, pc.exceeding_credits,
        t.currency, t.price, t.payment_days, t.customer_name, t.customer_address, t.customer_tax_id,
        t.po_reference, t.tax_label, t.tax_rate, t.tax_note, t.issuer_name, t.issuer_address,
        t.issuer_tax_id, t.issuer_bank
    FROM period_calc pc
    JOIN cfg_tenants t ON t.tenant_no = pc.tenant_no
    SEMI JOIN dirty d ON d.tenant_no = pc.tenant_no
    WHERE pc.in_report AND NOT pc.final AND t.policy = 'bill' AND pc.exceeding_credits > 0
), late AS (
    SELECT d.tenant_no, d.period_idx, op.period_start AS line_start, op.period_end AS line_end,
        e4sum(sum(re.exceeding_e4)) AS quantity
    FROM due d
    JOIN rated_events re ON re.tenant_no = d.tenant_no AND re.billed_idx = d.period_idx
    JOIN cfg_periods op ON op.tenant_no = re.tenant_no AND op.period_idx = re.natural_idx
    WHERE re.late AND re.exceeding_e4 > 0
    GROUP BY d.tenant_no, d.period_idx, op.period_start, op.period_end
), own AS (
    SELECT d.tenant_no, d.period_idx, d.period_start AS line_start, d.period_end AS line_end,
        d.exceeding_credits - coalesce((SELECT sum(l.quantity) FROM late l
            WHERE l.tenant_no = d.tenant_no AND l.period_idx = d.period_idx), 0) AS quantity,
        EXISTS (SELECT 1 FROM late l WHERE l.tenant_no = d.tenant_no AND l.period_idx = d.period_idx) AS has_late
    FROM due d
), items AS (
    SELECT tenant_no, period_idx, 0 AS kind, 'Exceeding AI credits' AS description, line_start, line_end, quantity
    FROM own WHERE quantity > 0 OR NOT has_late
    UNION ALL
    SELECT tenant_no, period_idx, 1, 'Late usage from ' || strftime(line_start, '%-d %b %Y') || ' – '
        || strftime(CAST(line_end - INTERVAL 1 DAY AS DATE), '%-d %b %Y'), line_start, line_end, quantity
    FROM late
), lines AS (
    SELECT i.tenant_no, i.period_idx,
        row_number() OVER (PARTITION BY i.tenant_no, i.period_idx ORDER BY i.kind, i.line_start) AS line,
        i.description, i.line_start, i.line_end, CAST(i.quantity AS DECIMAL(38,4)) AS quantity, d.price,
        CAST(round(CAST(i.quantity AS DECIMAL(38,4)) * d.price, 2) AS DECIMAL(38,2)) AS amount
    FROM items i JOIN due d ON d.tenant_no = i.tenant_no AND d.period_idx = i.period_idx
), net AS (
    SELECT d.*, CAST((SELECT sum(l.amount) FROM lines l
        WHERE l.tenant_no = d.tenant_no AND l.period_idx = d.period_idx) AS DECIMAL(38,2)) AS net
    FROM due d
), taxed AS (
    -- round() on a positive DECIMAL rounds half-up
    SELECT *, CAST(round(net * tax_rate, 2) AS DECIMAL(38,2)) AS tax FROM net
)
SELECT '' AS invoice_number, '' AS invoice_date, '' AS due_date, x.payment_days, x.tenant_id, x.customer_name,
    coalesce(x.customer_address, '') AS customer_address, coalesce(x.customer_tax_id, '') AS customer_tax_id,
    coalesce(x.po_reference, '') AS po_reference,
    strftime(x.period_start, '%Y-%m-%d') AS period_start, strftime(x.period_end, '%Y-%m-%d') AS period_end,
    x.currency, l.line, l.description, strftime(l.line_start, '%Y-%m-%d') AS line_period_start,
    strftime(l.line_end, '%Y-%m-%d') AS line_period_end,
    fmt_dec(l.quantity) AS quantity, fmt_dec(l.price) AS unit_price,
    CAST(l.amount AS VARCHAR) AS amount, CAST(x.net AS VARCHAR) AS net_amount,
    coalesce(x.tax_label, '') AS tax_label, fmt_dec(x.tax_rate) AS tax_rate, coalesce(x.tax_note, '') AS tax_note,
    CAST(x.tax AS VARCHAR) AS tax_amount, CAST(x.net + x.tax AS VARCHAR) AS total_amount,
    coalesce(x.issuer_name, '') AS issuer_name, coalesce(x.issuer_address, '') AS issuer_address,
    coalesce(x.issuer_tax_id, '') AS issuer_tax_id, coalesce(x.issuer_bank, '') AS issuer_bank
FROM taxed x
JOIN lines l ON l.tenant_no = x.tenant_no AND l.period_idx = x.period_idx
ORDER BY x.tenant_id, x.period_start, l.line
