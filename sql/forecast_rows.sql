-- forecast_rows.sql: the rows of usage/{tenant}/forecast.csv of every recomputed tenant
-- (pipeline/forecast; issue 11), one per open period reported; a tenant without one gets a
-- row of NULLs (its file is the header alone).
-- Inputs: dirty, forecasts. Outputs (rows): tenant_id, then the file's columns as text:
-- period_start, period_end (YYYY-MM-DD, end exclusive), as_of (RFC 3339 UTC or ''),
-- days_in_period, days_elapsed, credits_plan, credits_available, credits_used, daily_burn,
-- projected_credits (decimals written plainly), plan_runs_out, plan_ran_out,
-- credits_run_out, credits_ran_out (YYYY-MM-DD or '', true/false). Sorted by tenant_id,
-- period_start.
SELECT d.tenant_id, strftime(f.period_start, '%Y-%m-%d'), strftime(f.period_end, '%Y-%m-%d'),
    coalesce(rfc3339(f.as_of), ''), CAST(f.days AS VARCHAR), CAST(f.elapsed AS VARCHAR),
    fmt_dec(f.credits_plan), fmt_dec(f.credits_available), fmt_dec(f.credits_used),
    fmt_dec(f.daily_burn), fmt_dec(f.projected),
    coalesce(strftime(f.plan_runs_out, '%Y-%m-%d'), ''), CAST(f.plan_ran_out AS VARCHAR),
    coalesce(strftime(f.credits_run_out, '%Y-%m-%d'), ''), CAST(f.credits_ran_out AS VARCHAR)
FROM dirty d
LEFT JOIN forecasts f ON f.tenant_id = d.tenant_id
ORDER BY d.tenant_id, f.period_start
