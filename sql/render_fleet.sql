-- render_fleet.sql: the outputs that hold every tenant (FORMATS.md, "Outputs"), written from
-- the persistent tables without recomputing any row: the ledger (periods), the invoice
-- register (invoices) and the per-event ledger (frozen_events and the accepted pending
-- events). Run when the recomputed tenants changed something.
-- Inputs: periods, invoices, frozen_events, pending, cfg_tenants; {{out}} the outbox directory.
-- Outputs: {{out}}/ledger/period_usage.csv, {{out}}/invoices/register.csv,
-- {{out}}/ledger/rated_events.parquet.
COPY (
    SELECT cell(tenant_id) AS tenant_id, strftime(period_start, '%Y-%m-%d') AS period_start,
        strftime(period_end, '%Y-%m-%d') AS period_end, status,
        fmt_dec(credits_plan) AS credits_plan, fmt_dec(plan_used) AS plan_used,
        fmt_dec(bank_used) AS bank_used, fmt_dec(bank_remaining) AS bank_remaining,
        fmt_dec(exceeding_credits) AS exceeding_credits, fmt_dec(blocked_credits) AS blocked_credits,
        fmt_dec(allowance_units_used) AS allowance_units_used, events
    FROM periods ORDER BY tenant_id, period_start
) TO '{{out}}/ledger/period_usage.csv' (FORMAT csv, HEADER);

-- The register: its first eight columns as they always were, then (issue 12) the issue and
-- due dates, the customer invoiced, the tax and the total, as captured at issue. Money is
-- written with the currency's two places (15227.40, never 15227.4): amount (the net total,
-- the sum of the lines), tax_amount, total_amount (net + tax); a price per credit with at
-- least two (0.05, 1.00, 0.0125).
COPY (
    SELECT cell(invoice_number) AS invoice_number, cell(tenant_id) AS tenant_id,
        strftime(period_start, '%Y-%m-%d') AS period_start,
        strftime(period_end, '%Y-%m-%d') AS period_end, cell(currency) AS currency,
        fmt_dec(exceeding_credits) AS exceeding_credits,
        CASE WHEN price_per_credit * 100 = trunc(price_per_credit * 100)
             THEN CAST(CAST(price_per_credit AS DECIMAL(18,2)) AS VARCHAR)
             ELSE fmt_dec(price_per_credit) END AS price_per_credit,
        CAST(amount AS VARCHAR) AS amount,
        strftime(issued_on, '%Y-%m-%d') AS issue_date, strftime(due_date, '%Y-%m-%d') AS due_date,
        cell(customer_name) AS customer_name, CAST(tax_amount AS VARCHAR) AS tax_amount,
        CAST(total_amount AS VARCHAR) AS total_amount
    FROM invoices ORDER BY year, seq
) TO '{{out}}/invoices/register.csv' (FORMAT csv, HEADER);

COPY (
    SELECT event_id, tenant_id, user_id, event_type, occurred_at, billed_period_start, billed_period_end,
        rate_card_version, reason, late, e4(rated_e4) AS rated_credits, allowance_pool,
        e4(allowance_e4) AS allowance_units, e4(plan_e4) AS plan_credits, e4(bank_e4) AS bank_credits,
        e4(exceeding_e4) AS exceeding_credits, e4(blocked_e4) AS blocked_credits
    FROM (
        SELECT event_id, tenant_id, user_id, event_type, occurred_at, billed_period_start,
            billed_period_end, rate_card_version, reason, late, rated_e4, allowance_pool,
            allowance_e4, plan_e4, bank_e4, exceeding_e4, blocked_e4
        FROM frozen_events
        UNION ALL
        SELECT p.event_id, p.tenant_id, p.user_id, p.event_type, p.occurred_at, p.billed_period_start,
            cp.period_end, p.rate_card_version, p.rate_reason, p.late, p.rated_e4, p.allowance_pool,
            p.allowance_e4, p.plan_e4, p.bank_e4, p.exceeding_e4, p.blocked_e4
        FROM pending p
        JOIN cfg_periods cp ON cp.tenant_id = p.tenant_id AND cp.period_start = p.billed_period_start
        WHERE p.validated_run IS NOT NULL AND p.reason IS NULL
    )
    ORDER BY tenant_id, billed_period_start, occurred_at, event_id
) TO '{{out}}/ledger/rated_events.parquet' (FORMAT parquet, COMPRESSION snappy);
