-- notify_record.sql: record the threshold crossings of this run (BILLING.md section 6).
-- Inputs: rated_events, period_calc, cfg_periods, cfg_deposits, cfg_tenants, cfg_notify,
-- notifications; $1 the run number.
-- Outputs: new rows in notifications (status pending). A (tenant, period, threshold) that is
-- already there is never inserted again, whatever this run computes for it.
--
-- utilization = (plan used + bank used + exceeding) / (credits plan + bank balance at period
-- start + deposits dated inside the period), running over the period's events in funding
-- order (occurred_at, event_id) within the billed period. A threshold is crossed by the event
-- whose running use first reaches threshold * limit (compared exactly, in decimals); with a
-- limit of 0 the first event with rated credits crosses every threshold.
-- Periods already final when the run began are skipped: their crossings were recorded while
-- they were open (a period's finalizing run still records them), and a contract whose
-- thresholds are configured later is not notified about its closed history.
INSERT INTO notifications (tenant_id, period_start, period_end, threshold, crossed_at, event_id,
    credits_plan, bank_at_start, deposits_in_period, credits_limit, credits_used, credits_left,
    utilization, tenant_name, policy, price_per_credit, currency, emails, recorded_run, status,
    attempts)
WITH th AS (
    SELECT tenant_id, threshold, any_value(emails) AS emails
    FROM cfg_notify GROUP BY tenant_id, threshold
), dep AS (
    SELECT p.tenant_no, p.period_idx,
        coalesce(sum(d.credits) FILTER (WHERE d.deposit_at < p.start_at), 0) AS before_start,
        coalesce(sum(d.credits) FILTER (WHERE d.deposit_at >= p.start_at AND d.deposit_at < p.end_at), 0) AS inside
    FROM cfg_periods p
    LEFT JOIN cfg_deposits d ON d.tenant_id = p.tenant_id
    WHERE p.tenant_id IN (SELECT tenant_id FROM th)
    GROUP BY p.tenant_no, p.period_idx
), lim AS (
    SELECT pc.tenant_no, pc.tenant_id, pc.period_idx, pc.period_start, pc.period_end,
        CAST(pc.credits_plan AS DECIMAL(18,4)) AS credits_plan,
        CAST(greatest(dep.before_start - coalesce(sum(pc.bank_used) OVER (PARTITION BY pc.tenant_no
            ORDER BY pc.period_idx ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS DECIMAL(18,4)) AS bank_at_start,
        CAST(dep.inside AS DECIMAL(18,4)) AS deposits_in_period
    FROM period_calc pc
    JOIN dep ON dep.tenant_no = pc.tenant_no AND dep.period_idx = pc.period_idx
), lim2 AS (
    SELECT *, CAST(credits_plan + bank_at_start + deposits_in_period AS DECIMAL(18,4)) AS credits_limit,
        CAST(CAST(credits_plan + bank_at_start + deposits_in_period AS DECIMAL(38,4)) * 10000 AS HUGEINT) AS limit_e4
    FROM lim
), ev AS (
    SELECT re.tenant_no, re.tenant_id, re.billed_idx, re.event_id, re.occurred_at, re.rated_e4,
        re.plan_e4 + re.bank_e4 + re.exceeding_e4 AS step_e4,
        sum(re.plan_e4 + re.bank_e4 + re.exceeding_e4) OVER w AS used_e4,
        sum(CASE WHEN re.rated_e4 > 0 THEN 1 ELSE 0 END) OVER w AS charged  -- a FILTER aggregate is 10x slower here
    FROM rated_events re
    JOIN cfg_periods p ON p.tenant_no = re.tenant_no AND p.period_idx = re.billed_idx AND NOT p.was_final
    WHERE re.tenant_id IN (SELECT tenant_id FROM th)
    WINDOW w AS (PARTITION BY re.tenant_no, re.billed_idx ORDER BY re.occurred_at, re.event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), need AS (
    -- the running use (integer e4) that reaches threshold * limit: for an integer u and a real
    -- x, u >= x exactly when u >= ceil(x), so events compare integers only
    SELECT l.*, th.threshold, th.emails,
        CAST(ceil(CAST(th.threshold AS DECIMAL(38,6)) * CAST(l.limit_e4 AS DECIMAL(38,0))) AS HUGEINT) AS need_e4
    FROM lim2 l JOIN th ON th.tenant_id = l.tenant_id
), crossed AS (
    SELECT n.tenant_id, n.period_start, n.period_end, n.threshold, ev.occurred_at, ev.event_id,
        n.credits_plan, n.bank_at_start, n.deposits_in_period, n.credits_limit, n.limit_e4,
        CAST(ev.used_e4 AS HUGEINT) AS used_e4, n.emails
    FROM ev
    JOIN need n ON n.tenant_no = ev.tenant_no AND n.period_idx = ev.billed_idx
    WHERE (ev.step_e4 > 0 OR ev.rated_e4 > 0)
      AND CASE WHEN n.limit_e4 > 0
               THEN ev.used_e4 - ev.step_e4 < n.need_e4 AND ev.used_e4 >= n.need_e4
               ELSE ev.rated_e4 > 0 AND ev.charged = 1 END
)
SELECT c.tenant_id, c.period_start, c.period_end, c.threshold, c.occurred_at, c.event_id,
    c.credits_plan, c.bank_at_start, c.deposits_in_period, c.credits_limit, e4sum(c.used_e4),
    greatest(c.credits_limit - e4sum(c.used_e4), 0),
    CASE WHEN c.limit_e4 > 0 THEN e4sum((CAST(c.used_e4 AS HUGEINT) * 20000 + c.limit_e4) // (2 * c.limit_e4)) END,
    t.tenant_name, t.policy, CASE WHEN t.policy = 'bill' THEN t.price END, t.currency,
    c.emails, $1, 'pending', 0
FROM crossed c
JOIN cfg_tenants t ON t.tenant_id = c.tenant_id
ORDER BY c.tenant_id, c.period_start, c.threshold
ON CONFLICT DO NOTHING;
