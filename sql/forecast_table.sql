-- forecast_table.sql: the run's forecasts of the open periods of the recomputed tenants
-- (pipeline/forecast fills it; issue 11), read by the workbooks (documents_forecast.sql),
-- usage/{tenant}/forecast.csv (forecast_rows.sql) and the run-out notifications
-- (notify_runout.sql).
-- Inputs: none. Outputs (temp): forecasts, empty.
-- Days are tenant-local calendar days; run-out days are tenant-local dates, NULL when the
-- credits do not run out within the period (or there is nothing to run out of); *_ran_out
-- says the day is when they did, not a projection. utilization is credits_used /
-- credits_available at 4 places half-up, NULL when nothing is available. runout_alert: the
-- credits run out within the tenant's notify.runout_within of as_of.
CREATE OR REPLACE TEMP TABLE forecasts (
    tenant_id          VARCHAR,
    period_start       DATE,
    period_end         DATE,
    as_of              TIMESTAMPTZ,
    as_of_event        VARCHAR,
    days               INTEGER,
    elapsed            INTEGER,
    credits_plan       DECIMAL(38,4),
    bank_at_start      DECIMAL(38,4),
    deposits_in_period DECIMAL(38,4),
    credits_available  DECIMAL(38,4),
    credits_used       DECIMAL(38,4),
    utilization        DECIMAL(38,4),
    daily_burn         DECIMAL(38,4),
    projected          DECIMAL(38,4),
    plan_runs_out      DATE,
    plan_ran_out       BOOLEAN,
    credits_run_out    DATE,
    credits_ran_out    BOOLEAN,
    runout_alert       BOOLEAN
);
