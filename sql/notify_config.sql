-- notify_config.sql: the per-run temporary tables of notification thresholds and run-out
-- windows.
-- Inputs: none (pipeline/notify appends one row per tenant and configured threshold, and one
-- per tenant with notify.runout_within). Outputs: cfg_notify, cfg_runout.
CREATE OR REPLACE TEMP TABLE cfg_notify (
    tenant_id VARCHAR,
    threshold DECIMAL(18,6),   -- > 0; 1 means 100% of the credits available in the period
    emails    VARCHAR          -- the tenant's notify.email, space separated ('' when none)
);
CREATE OR REPLACE TEMP TABLE cfg_runout (
    tenant_id VARCHAR,
    within    VARCHAR,         -- notify.runout_within as written (7d)
    emails    VARCHAR          -- the tenant's notify.email, space separated ('' when none)
);
