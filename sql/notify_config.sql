-- notify_config.sql: the per-run temporary table of notification thresholds.
-- Inputs: none (pipeline/notify appends one row per tenant and configured threshold).
-- Outputs: cfg_notify.
CREATE OR REPLACE TEMP TABLE cfg_notify (
    tenant_id VARCHAR,
    threshold DECIMAL(18,6),   -- > 0; 1 means 100% of the credits available in the period
    emails    VARCHAR          -- the tenant's notify.email, space separated ('' when none)
);
