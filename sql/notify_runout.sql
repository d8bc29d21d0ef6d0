-- notify_runout.sql: record the run-out notifications of this run (issue 11): once per
-- tenant and period, when the period's forecast says its credits (plan and bank) run out
-- within the tenant's notify.runout_within of the latest usage counted, or have run out.
-- Inputs: forecasts (pipeline/forecast: runout_alert, the figures as of the latest usage),
-- cfg_runout, cfg_tenants, notifications; $1 the run number.
-- Outputs: new rows in notifications (kind runout, threshold 0, status pending). A tenant
-- and period already notified is never notified again, whatever the forecast says later.
INSERT INTO notifications (tenant_id, period_start, period_end, threshold, crossed_at, event_id,
    credits_plan, bank_at_start, deposits_in_period, credits_limit, credits_used, credits_left,
    utilization, tenant_name, policy, price_per_credit, currency, emails, recorded_run, status,
    attempts, kind, runs_out_on, runout_within)
SELECT f.tenant_id, f.period_start, f.period_end, 0, f.as_of, f.as_of_event,
    CAST(f.credits_plan AS DECIMAL(18,4)), CAST(f.bank_at_start AS DECIMAL(18,4)),
    CAST(f.deposits_in_period AS DECIMAL(18,4)), CAST(f.credits_available AS DECIMAL(18,4)),
    f.credits_used, greatest(f.credits_available - f.credits_used, 0), f.utilization,
    t.tenant_name, t.policy, CASE WHEN t.policy = 'bill' THEN t.price END, t.currency,
    r.emails, $1, 'pending', 0, 'runout', f.credits_run_out, r.within
FROM forecasts f
JOIN cfg_runout r ON r.tenant_id = f.tenant_id
JOIN cfg_tenants t ON t.tenant_id = f.tenant_id
WHERE f.runout_alert AND f.as_of IS NOT NULL
ORDER BY f.tenant_id, f.period_start
ON CONFLICT DO NOTHING;
