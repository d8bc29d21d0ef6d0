-- documents_forecast.sql: the forecasts of the open periods of the workbooks to render
-- (pipeline/documents: sheets Plan, History and Chart; issue 11), from the run's forecasts
-- (pipeline/forecast, forecast_table.sql).
-- Inputs: forecasts. Outputs (rows): tenant_id, period_start (YYYY-MM-DD), days, elapsed,
-- daily_burn, projected (exact decimal text), plan_runs_out, credits_run_out (YYYY-MM-DD or
-- ''), plan_ran_out, credits_ran_out, plan_none, credits_none (nothing to run out of).
-- Sorted by tenant_id, period_start.
SELECT tenant_id, strftime(period_start, '%Y-%m-%d'), days, elapsed,
    CAST(daily_burn AS VARCHAR), CAST(projected AS VARCHAR),
    coalesce(strftime(plan_runs_out, '%Y-%m-%d'), ''), coalesce(strftime(credits_run_out, '%Y-%m-%d'), ''),
    plan_ran_out, credits_ran_out, credits_plan <= 0, credits_available <= 0
FROM forecasts
ORDER BY tenant_id, period_start
