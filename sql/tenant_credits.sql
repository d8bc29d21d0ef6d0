-- tenant_credits.sql: credits by bucket per tenant over its reported periods, for the run
-- manifest.
-- Inputs: periods. Output: tenant_id, rated, plan, bank, exceeding, blocked (plain text).
SELECT tenant_id, fmt_dec(sum(rated_credits)), fmt_dec(sum(plan_used)), fmt_dec(sum(bank_used)),
    fmt_dec(sum(exceeding_credits)), fmt_dec(sum(blocked_credits))
FROM periods GROUP BY tenant_id ORDER BY tenant_id
