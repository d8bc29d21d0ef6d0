-- documents_invoices.sql: the lines of every issued invoice (BILLING.md section 7), for the
-- invoice documents invoices/{invoice_number}.xlsx and .csv (pipeline/documents).
-- Inputs: invoices, cfg_tenants, rated_events, cfg_periods.
-- Outputs (rows, one per invoice line): invoice_number, invoice_date, tenant_id, customer,
-- period_start, period_end, currency, line (1, 2, ...), description, line_period_start,
-- line_period_end, quantity, unit_price (plain decimals), amount, total (2 places), and
-- register_amount (the register's amount, 2 places); sorted by year, seq, line.
-- Late events (BILLING.md section 4) billed in the invoice's period get a line of their own
-- per original period ("Late usage from ..."); the billed period's own events keep the line
-- "Exceeding AI credits" with the rest of the invoice's exceeding credits, so the quantities
-- always add up to the register's exceeding_credits. Each line's amount is rounded half-up
-- to 2 places; the total is the sum of the line amounts. All arithmetic is DECIMAL.
WITH inv AS (
    SELECT i.*, coalesce(t.tenant_name, i.tenant_id) AS customer
    FROM invoices i LEFT JOIN cfg_tenants t ON t.tenant_id = i.tenant_id
), late AS (
    SELECT inv.invoice_number, op.period_start AS line_start, op.period_end AS line_end,
        e4(sum(re.exceeding_e4)) AS quantity
    FROM inv
    JOIN rated_events re ON re.tenant_id = inv.tenant_id AND re.billed_period_start = inv.period_start
    JOIN cfg_periods op ON op.tenant_id = re.tenant_id
        AND re.occurred_at >= op.start_at AND re.occurred_at < op.end_at
    WHERE re.late AND re.exceeding_e4 > 0 AND op.period_start <> inv.period_start
    GROUP BY inv.invoice_number, op.period_start, op.period_end
), own AS (
    SELECT inv.invoice_number, inv.period_start AS line_start, inv.period_end AS line_end,
        inv.exceeding_credits - coalesce((SELECT sum(l.quantity) FROM late l
            WHERE l.invoice_number = inv.invoice_number), 0) AS quantity,
        EXISTS (SELECT 1 FROM late l WHERE l.invoice_number = inv.invoice_number) AS has_late
    FROM inv
), items AS (
    SELECT invoice_number, 0 AS kind, 'Exceeding AI credits' AS description, line_start, line_end,
        CAST(quantity AS DECIMAL(18,4)) AS quantity
    FROM own WHERE quantity > 0 OR NOT has_late
    UNION ALL
    SELECT invoice_number, 1 AS kind,
        'Late usage from ' || strftime(line_start, '%Y-%m-%d') || ' to '
            || strftime(CAST(line_end - INTERVAL 1 DAY AS DATE), '%Y-%m-%d') AS description,
        line_start, line_end, CAST(quantity AS DECIMAL(18,4)) AS quantity
    FROM late
), priced AS (
    SELECT inv.invoice_number, inv.year, inv.seq, inv.issued_on, inv.tenant_id, inv.customer,
        inv.period_start, inv.period_end, inv.currency, inv.price_per_credit, inv.amount AS register_amount,
        items.kind, items.description, items.line_start, items.line_end, items.quantity,
        round(CAST(items.quantity AS DECIMAL(38,4)) * inv.price_per_credit, 2) AS amount
    FROM items JOIN inv ON inv.invoice_number = items.invoice_number
)
SELECT invoice_number, strftime(issued_on, '%Y-%m-%d') AS invoice_date, tenant_id, customer,
    strftime(period_start, '%Y-%m-%d') AS period_start, strftime(period_end, '%Y-%m-%d') AS period_end,
    currency,
    row_number() OVER (PARTITION BY invoice_number ORDER BY kind, line_start) AS line,
    description, strftime(line_start, '%Y-%m-%d') AS line_period_start,
    strftime(line_end, '%Y-%m-%d') AS line_period_end,
    fmt_dec(quantity) AS quantity, fmt_dec(price_per_credit) AS unit_price,
    CAST(CAST(amount AS DECIMAL(38,2)) AS VARCHAR) AS amount,
    CAST(CAST(sum(amount) OVER (PARTITION BY invoice_number) AS DECIMAL(38,2)) AS VARCHAR) AS total,
    CAST(CAST(register_amount AS DECIMAL(38,2)) AS VARCHAR) AS register_amount
FROM priced
ORDER BY year, seq, line
