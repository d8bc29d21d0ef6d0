-- explain_balances.sql: what the tenant's events before one event used, in funding order
-- (BILLING.md section 3: billed period, then occurred_at, then event_id), for `creditmeter
-- explain`. Balances are not stored per event: explain recomputes them from these sums and
-- the configuration (plan left = credits_plan - plan used before in the period; bank left =
-- deposits it sees - bank used before; allowance and cap left alike). Events of final periods
-- come from frozen_events (their sums are the closing balances: closing, closing_pools,
-- closing_users), events of open periods from pending, as the last run funded them.
-- Inputs: frozen_events, pending; $1 tenant_id, $2 billed_period_start (YYYY-MM-DD), $3
-- occurred_at (Unix µs), $4 event_id, $5 user_id, $6 allowance pool (NULL: none).
-- Output: one row, every sum in e4 as text (HUGEINT): plan used before it in its billed
-- period, bank used before it, units of its pool used before it, credits funded (plan, bank,
-- exceeding) to its user before it, and the number of events before it in its billed period.
WITH ev AS (
    SELECT billed_period_start, occurred_at, event_id, user_id, allowance_pool, allowance_e4,
        plan_e4, bank_e4, exceeding_e4
    FROM frozen_events WHERE tenant_id = $1
    UNION ALL
    SELECT billed_period_start, occurred_at, event_id, user_id, allowance_pool, allowance_e4,
        plan_e4, bank_e4, exceeding_e4
    FROM pending WHERE tenant_id = $1 AND validated_run IS NOT NULL AND reason IS NULL
), before AS (
    SELECT * FROM ev
    WHERE billed_period_start < $2::DATE
       OR (billed_period_start = $2::DATE
           AND (epoch_us(occurred_at) < $3::BIGINT
                OR (epoch_us(occurred_at) = $3::BIGINT AND event_id < $4::VARCHAR)))
)
SELECT
    CAST(coalesce(sum(plan_e4) FILTER (WHERE billed_period_start = $2::DATE), 0) AS VARCHAR),
    CAST(coalesce(sum(bank_e4), 0) AS VARCHAR),
    CAST(coalesce(sum(allowance_e4) FILTER (WHERE allowance_pool = $6::VARCHAR), 0) AS VARCHAR),
    CAST(coalesce(sum(CAST(plan_e4 AS HUGEINT) + bank_e4 + exceeding_e4) FILTER (WHERE user_id = $5::VARCHAR), 0) AS VARCHAR),
    count(*) FILTER (WHERE billed_period_start = $2::DATE)
FROM before
