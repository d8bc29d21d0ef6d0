-- finalize.sql: freeze the periods whose grace period has passed, and issue their invoices
-- (BILLING.md sections 4 and 7).
-- Inputs: period_calc, rated_events, cfg_tenants, invoices; $1 run_seq, $2 issue date.
-- Outputs: rows appended to final_periods, frozen_events and invoices. Invoice numbers are
-- gap-free per year of the period's last day, in the order (period_end, tenant_id).
INSERT INTO final_periods
SELECT tenant_id, period_start, period_end, credits_plan, plan_used, bank_used, bank_remaining,
    exceeding_credits, blocked_credits, allowance_units_used, events, $1
FROM period_calc WHERE finalizing;

INSERT INTO frozen_events
SELECT re.event_id, re.tenant_id, re.user_id, re.occurred_at, re.billed_period_start,
    re.rate_card_version, re.reason, re.allowance_pool, re.rated_e4, re.allowance_e4,
    re.plan_e4, re.bank_e4, re.exceeding_e4, re.blocked_e4, re.late
FROM rated_events re
JOIN period_calc pc ON pc.tenant_no = re.tenant_no AND pc.period_idx = re.billed_idx
WHERE pc.finalizing AND NOT re.frozen;

INSERT INTO invoices
WITH due AS (
    SELECT pc.tenant_id, pc.period_start, pc.period_end, pc.exceeding_credits, t.currency, t.price,
        year(pc.period_end - INTERVAL 1 DAY) AS yr
    FROM period_calc pc JOIN cfg_tenants t ON t.tenant_no = pc.tenant_no
    WHERE pc.finalizing AND t.policy = 'bill' AND pc.exceeding_credits > 0
), numbered AS (
    SELECT due.*,
        coalesce((SELECT max(i.seq) FROM invoices i WHERE i.year = due.yr), 0)
        + row_number() OVER (PARTITION BY yr ORDER BY period_end, tenant_id) AS seq
    FROM due
)
SELECT printf('INV-%04d-%06d', yr, seq), yr, seq, tenant_id, period_start, period_end, currency,
    exceeding_credits, price, round(CAST(exceeding_credits AS DECIMAL(38,4)) * price, 2), $2::DATE, $1
FROM numbered;
