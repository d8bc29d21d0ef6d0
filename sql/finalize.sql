-- finalize.sql: keep the results of the recomputed tenants, freeze the periods whose grace
-- period has passed and issue their invoices (BILLING.md sections 4, 5 and 7). Runs inside
-- the run's result transaction.
-- Inputs: checked, rated_events, period_calc, dirty, cfg_tenants, cfg_periods, pending,
-- invoices; $1 run_seq, $2 the issue date (the run's UTC date).
-- Outputs: run_causes, period_log, periods (open rows of the recomputed tenants replaced,
-- finalized rows final),
-- frozen_events, closing, closing_pools, closing_users, invoices, invoice_lines, pending
-- (validation and split of every line rated; events of finalized periods leave it), qlog,
-- tenant_state, tenant_calendar, dirty_tenants.

-- Lines this run moved to quarantine or to another reason (pending lines of unknown tenants
-- included): the quarantine file of the run lists them.
INSERT INTO qlog
SELECT c.line_id, p.obj_no, p.line_no, c.tenant_id, c.event_id, c.reject_reason, c.reject_field, NULL, $1, NULL
FROM checked c JOIN pending p ON p.line_id = c.line_id
WHERE c.reject_reason IS NOT NULL
  AND (p.validated_run IS NULL OR p.reason IS DISTINCT FROM c.reject_reason);

-- Why each tenant was recomputed (for `creditmeter diff`), before the state below changes.
INSERT INTO run_causes
SELECT $1, tenant_id, cause, n FROM (
    SELECT c.tenant_id, 'new_events' AS cause, count(*) AS n
    FROM checked c JOIN pending p ON p.line_id = c.line_id
    WHERE c.reject_reason IS NULL AND p.validated_run IS NULL AND c.tenant_no IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT c.tenant_id, 'reconsidered', count(*)
    FROM checked c JOIN pending p ON p.line_id = c.line_id
    WHERE p.validated_run IS NOT NULL AND (c.reject_reason IS NULL) <> (p.reason IS NULL) AND c.tenant_no IS NOT NULL
    GROUP BY ALL
    UNION ALL
    -- late events this run bills for the first time (not those billed late by an earlier run)
    SELECT re.tenant_id, 'late_events', count(*)
    FROM rated_events re JOIN pending p ON p.line_id = re.line_id
    WHERE re.late AND NOT coalesce(p.late, false) GROUP BY ALL
    UNION ALL
    SELECT tenant_id, 'finalized', count(*) FROM period_calc WHERE finalizing GROUP BY ALL
    UNION ALL
    SELECT t.tenant_id, 'configuration', 1
    FROM cfg_tenants t JOIN tenant_state s ON s.tenant_id = t.tenant_id
    SEMI JOIN dirty d ON d.tenant_no = t.tenant_no
    WHERE s.config_digest <> t.config_digest
    UNION ALL
    SELECT t.tenant_id, 'period_started', 1
    FROM cfg_tenants t JOIN tenant_state s ON s.tenant_id = t.tenant_id
    SEMI JOIN dirty d ON d.tenant_no = t.tenant_no
    WHERE s.horizon_idx <> t.horizon_idx
    UNION ALL
    SELECT tenant_id, 'loading', 1 FROM dirty_tenants
    WHERE tenant_id IN (SELECT tenant_id FROM dirty)
);

-- The ledger rows of the recomputed tenants: open rows are replaced; rows final before the
-- run never change.
DELETE FROM periods
WHERE status = 'open' AND (tenant_id IN (SELECT tenant_id FROM dirty)
                           OR tenant_id NOT IN (SELECT tenant_id FROM cfg_tenants));
INSERT INTO periods
SELECT tenant_id, period_idx, period_start, period_end,
    CASE WHEN final THEN 'final' ELSE 'open' END, credits_plan, plan_used, bank_used, bank_remaining,
    exceeding_credits, blocked_credits, allowance_units_used, events, rated_credits, $1,
    CASE WHEN finalizing THEN $1 END
FROM period_calc
WHERE in_report AND NOT was_final;

-- The rows that changed, as this run wrote them (for `creditmeter diff`).
INSERT INTO period_log
WITH last AS (
    SELECT l.* FROM period_log l SEMI JOIN dirty d ON d.tenant_id = l.tenant_id
    QUALIFY row_number() OVER (PARTITION BY l.tenant_id, l.period_start ORDER BY l.run_seq DESC) = 1
), now AS (
    SELECT tenant_id, period_start, period_end, CASE WHEN final THEN 'final' ELSE 'open' END AS status,
        credits_plan, plan_used, bank_used, bank_remaining, exceeding_credits, blocked_credits,
        allowance_units_used, events, rated_credits
    FROM period_calc WHERE in_report AND NOT was_final
)
SELECT $1, n.* FROM now n
LEFT JOIN last l ON l.tenant_id = n.tenant_id AND l.period_start = n.period_start
WHERE l.tenant_id IS NULL
   OR (n.status, n.credits_plan, n.plan_used, n.bank_used, n.bank_remaining, n.exceeding_credits,
       n.blocked_credits, n.allowance_units_used, n.events, n.rated_credits)
      IS DISTINCT FROM
      (l.status, l.credits_plan, l.plan_used, l.bank_used, l.bank_remaining, l.exceeding_credits,
       l.blocked_credits, l.allowance_units_used, l.events, l.rated_credits);

-- Events of the finalized periods are frozen with their split, and their identity with
-- them (a billed event stands).
INSERT INTO frozen_events
SELECT re.line_id, re.tenant_id, re.event_id, p.digest, re.user_id, re.event_type, re.occurred_at,
    re.billed_period_start, re.billed_period_end, re.late, re.rate_card_version, re.reason,
    re.allowance_pool, re.rated_e4, re.allowance_e4, re.plan_e4, re.bank_e4, re.exceeding_e4,
    re.blocked_e4, $1, p.domain_name, p.event_value, p.event_unit
FROM rated_events re
JOIN period_calc pc ON pc.tenant_no = re.tenant_no AND pc.period_idx = re.billed_idx AND pc.finalizing
JOIN pending p ON p.line_id = re.line_id
ORDER BY re.tenant_id, re.billed_period_start, re.occurred_at, re.event_id;

-- Closing balances: what later periods need from the finalized ones. (A view: a first run
-- finalizes most of a year, and a copy of millions of events costs more than four scans.)
CREATE OR REPLACE TEMP VIEW closing_add AS
SELECT re.line_id, re.tenant_id, re.user_id, re.allowance_pool, re.allowance_e4, re.plan_e4,
    re.bank_e4, re.exceeding_e4
FROM rated_events re
JOIN period_calc pc ON pc.tenant_no = re.tenant_no AND pc.period_idx = re.billed_idx AND pc.finalizing;
INSERT INTO closing
SELECT tenant_id, sum(bank_e4) FROM closing_add GROUP BY tenant_id
ON CONFLICT (tenant_id) DO UPDATE SET bank_used_e4 = closing.bank_used_e4 + excluded.bank_used_e4;
INSERT INTO closing_pools
SELECT tenant_id, allowance_pool, sum(allowance_e4) FROM closing_add
WHERE allowance_pool IS NOT NULL GROUP BY tenant_id, allowance_pool
ON CONFLICT (tenant_id, pool) DO UPDATE SET used_e4 = closing_pools.used_e4 + excluded.used_e4;
INSERT INTO closing_users
SELECT tenant_id, user_id, sum(plan_e4 + bank_e4 + exceeding_e4) FROM closing_add
GROUP BY tenant_id, user_id
ON CONFLICT (tenant_id, user_id) DO UPDATE SET funded_e4 = closing_users.funded_e4 + excluded.funded_e4;

-- The working set: the finalized events leave it first; every other rated line keeps its
-- latest validation and split.
DELETE FROM pending WHERE line_id IN (SELECT line_id FROM closing_add);
UPDATE pending SET validated_run = $1, reason = c.reject_reason, field = c.reject_field,
    billed_period_start = re.billed_period_start, late = re.late,
    rate_card_version = c.rate_card_version, rate_reason = c.rate_reason,
    allowance_pool = c.allowance_pool, rated_e4 = re.rated_e4, allowance_e4 = re.allowance_e4,
    plan_e4 = re.plan_e4, bank_e4 = re.bank_e4, exceeding_e4 = re.exceeding_e4,
    blocked_e4 = re.blocked_e4
FROM checked c LEFT JOIN rated_events re ON re.line_id = c.line_id
WHERE pending.line_id = c.line_id;

-- Invoices (section 7): policy bill, finalized periods with exceeding credits. Lines: the
-- period's own events, and one per original period of the late events it bills; each line
-- rounded half-up to the cent; the invoice's amount (net) is the sum of its lines; the tax
-- is that amount at the tenant's rate, rounded half-up to the cent once; the total is net
-- plus tax. Everything the documents show (terms, due date, customer, tax, issuer and its
-- bank) is captured here from the configuration, as it stands at issue, and never changes.
CREATE OR REPLACE TEMP TABLE due_invoices AS
WITH due AS (
    SELECT pc.tenant_no, pc.tenant_id, pc.period_idx, pc.period_start, pc.period_end, pc.exceeding_credits,
        t.currency, t.price, year(pc.period_end - INTERVAL 1 DAY) AS yr,
        t.payment_days, t.customer_name, t.customer_address, t.customer_tax_id, t.po_reference,
        t.tax_label, t.tax_rate, t.tax_note, t.issuer_name, t.issuer_address, t.issuer_tax_id, t.issuer_bank
    FROM period_calc pc JOIN cfg_tenants t ON t.tenant_no = pc.tenant_no
    WHERE pc.finalizing AND t.policy = 'bill' AND pc.exceeding_credits > 0
)
SELECT due.*,
    printf('INV-%04d-%06d', yr,
        coalesce((SELECT max(i.seq) FROM invoices i WHERE i.year = due.yr), 0)
        + row_number() OVER (PARTITION BY yr ORDER BY period_end, tenant_id)) AS invoice_number,
    coalesce((SELECT max(i.seq) FROM invoices i WHERE i.year = due.yr), 0)
        + row_number() OVER (PARTITION BY yr ORDER BY period_end, tenant_id) AS seq
FROM due;
INSERT INTO invoice_lines
WITH late AS (
    SELECT d.invoice_number, op.period_start AS line_start, op.period_end AS line_end,
        e4sum(sum(re.exceeding_e4)) AS quantity
    FROM due_invoices d
    JOIN rated_events re ON re.tenant_no = d.tenant_no AND re.billed_idx = d.period_idx
    JOIN cfg_periods op ON op.tenant_no = re.tenant_no AND op.period_idx = re.natural_idx
    WHERE re.late AND re.exceeding_e4 > 0
    GROUP BY d.invoice_number, op.period_start, op.period_end
), own AS (
    SELECT d.invoice_number, d.period_start AS line_start, d.period_end AS line_end,
        d.exceeding_credits - coalesce((SELECT sum(l.quantity) FROM late l WHERE l.invoice_number = d.invoice_number), 0) AS quantity,
        EXISTS (SELECT 1 FROM late l WHERE l.invoice_number = d.invoice_number) AS has_late
    FROM due_invoices d
), items AS (
    SELECT invoice_number, 0 AS kind, 'Exceeding AI credits' AS description, line_start, line_end, quantity
    FROM own WHERE quantity > 0 OR NOT has_late
    UNION ALL
    -- the original period as people read it, its last day inclusive: "1 Jan 2026 – 31 Jan 2026"
    SELECT invoice_number, 1, 'Late usage from ' || strftime(line_start, '%-d %b %Y') || ' – '
        || strftime(CAST(line_end - INTERVAL 1 DAY AS DATE), '%-d %b %Y'), line_start, line_end, quantity
    FROM late
)
SELECT i.invoice_number, row_number() OVER (PARTITION BY i.invoice_number ORDER BY i.kind, i.line_start),
    i.description, i.line_start, i.line_end, CAST(i.quantity AS DECIMAL(38,4)), d.price,
    CAST(round(CAST(i.quantity AS DECIMAL(38,4)) * d.price, 2) AS DECIMAL(38,2))
FROM items i JOIN due_invoices d ON d.invoice_number = i.invoice_number;
INSERT INTO invoices (invoice_number, year, seq, tenant_id, period_start, period_end, currency,
    exceeding_credits, price_per_credit, amount, issued_on, issued_run, due_date, payment_days,
    customer_name, customer_address, customer_tax_id, po_reference, tax_label, tax_rate, tax_note,
    tax_amount, total_amount, issuer_name, issuer_address, issuer_tax_id, issuer_bank)
WITH net AS (
    SELECT d.*, CAST((SELECT sum(l.amount) FROM invoice_lines l WHERE l.invoice_number = d.invoice_number) AS DECIMAL(38,2)) AS net
    FROM due_invoices d
), taxed AS (
    -- round() on a positive DECIMAL rounds half-up
    SELECT *, CAST(round(net * tax_rate, 2) AS DECIMAL(38,2)) AS tax FROM net
)
SELECT invoice_number, yr, seq, tenant_id, period_start, period_end, currency, exceeding_credits, price,
    net, $2::DATE, $1, CAST($2::DATE + payment_days AS DATE), payment_days, customer_name, customer_address,
    customer_tax_id, po_reference, tax_label, tax_rate, tax_note, tax, net + tax, issuer_name,
    issuer_address, issuer_tax_id, issuer_bank
FROM taxed;

-- What the tenants' results were computed from, and their calendar.
INSERT OR REPLACE INTO tenant_state
SELECT t.tenant_id, t.config_digest, t.horizon_idx, $1
FROM cfg_tenants t SEMI JOIN dirty d ON d.tenant_no = t.tenant_no;
INSERT OR REPLACE INTO tenant_calendar
SELECT tenant_id, timezone, period, anchor_day, service_start, service_end
FROM cfg_calendar SEMI JOIN dirty d ON d.tenant_id = cfg_calendar.tenant_id;
DELETE FROM dirty_tenants;
