-- compute_scope.sql: what this run recomputes (BILLING.md section 5, "Cost"): the tenants
-- whose results may have changed, and the pending lines to validate first.
-- Inputs: cfg_tenants (config_digest, horizon_idx), cfg_periods, tenant_state, dirty_tenants,
-- pending, periods.
-- Outputs (temp): cfg_period_months; c0 (configured tenants that changed: new, another configuration, --now in
-- another period, a period due for finalization, accepted events added or removed by
-- loading); rate_set (the pending lines to validate: those of c0, every quarantined one
-- (reconsidered every run) and every one never validated); checked (empty, filled by
-- rate.sql).
-- Periods by the UTC months they overlap: an event finds its period by an equality join on
-- (tenant, month) among two or three candidates, not by a range join over every period of
-- its tenant (which grows with the contract's length).
CREATE OR REPLACE TEMP TABLE cfg_period_months AS
SELECT p.tenant_no, m.month, p.period_idx, p.start_at, p.end_at, p.was_final
FROM cfg_periods p,
    LATERAL (SELECT unnest(generate_series(date_trunc('month', p.start_at),
        date_trunc('month', p.end_at - INTERVAL 1 MICROSECOND), INTERVAL 1 MONTH)) AS month) m;

CREATE OR REPLACE TEMP TABLE c0 AS
SELECT t.tenant_id
FROM cfg_tenants t LEFT JOIN tenant_state s ON s.tenant_id = t.tenant_id
WHERE s.tenant_id IS NULL OR s.config_digest <> t.config_digest OR s.horizon_idx <> t.horizon_idx
UNION
SELECT tenant_id FROM cfg_periods WHERE finalize AND NOT was_final
UNION
SELECT d.tenant_id FROM dirty_tenants d SEMI JOIN cfg_tenants t ON t.tenant_id = d.tenant_id;

CREATE OR REPLACE TEMP TABLE rate_set AS
SELECT line_id FROM pending
WHERE tenant_id IN (SELECT tenant_id FROM c0) OR reason IS NOT NULL OR validated_run IS NULL
   OR tenant_id NOT IN (SELECT tenant_id FROM cfg_tenants);

CREATE OR REPLACE TEMP TABLE checked (
    line_id           BIGINT,
    tenant_no         INTEGER,
    tenant_id         VARCHAR,
    event_id          VARCHAR,
    user_id           VARCHAR,
    event_type        VARCHAR,
    occurred_at       TIMESTAMPTZ,
    rate_card_version VARCHAR,
    kind              VARCHAR,
    preview           BOOLEAN,
    allowance_pool    VARCHAR,   -- the pool a per_unit rule draws on (not for previews)
    rate_reason       VARCHAR,   -- preview | free_feature | below_threshold
    blocks_e4         BIGINT,
    per_block_e4      BIGINT,
    credits_e4        BIGINT,
    natural_idx       INTEGER,   -- the period containing occurred_at
    billed_idx        INTEGER,   -- the period that bills it (late: the first open one)
    late              BOOLEAN,
    reject_reason     VARCHAR,
    reject_field      VARCHAR
);
