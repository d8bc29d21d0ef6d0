-- snapshot_sources.sql: name the warehouse tables the analysts' snapshot reads besides its
-- ledgers, or stand-ins without rows when a warehouse lacks them (one written before they
-- existed, read by snapshot.Rebuild alone): the temp views snap_src_tenants,
-- snap_src_deposits, snap_src_member_caps and snap_src_notifications.
-- Inputs: {{tenants}}, {{deposits}}, {{member_caps}}, {{notifications}}: each the table's
-- name, or the snap_none_* stand-in below (pipeline/snapshot chooses). Outputs: the views,
-- and the empty stand-ins snap_none_*.
CREATE OR REPLACE TEMP TABLE snap_none_tenants (
    tenant_id VARCHAR, tenant_name VARCHAR, currency VARCHAR, timezone VARCHAR, period VARCHAR,
    anchor_day INTEGER, service_start DATE, service_end DATE, credits_plan DECIMAL(18,4),
    policy VARCHAR, price_per_credit DECIMAL(18,6), rate_card VARCHAR, payment_days INTEGER);
CREATE OR REPLACE TEMP TABLE snap_none_deposits (
    tenant_id VARCHAR, deposit_id VARCHAR, credits DECIMAL(18,4), deposited_at TIMESTAMPTZ);
CREATE OR REPLACE TEMP TABLE snap_none_member_caps (tenant_id VARCHAR, user_id VARCHAR, cap DECIMAL(18,4));
CREATE OR REPLACE TEMP TABLE snap_none_notifications (
    tenant_id VARCHAR, period_start DATE, period_end DATE, threshold DECIMAL(18,6),
    crossed_at TIMESTAMPTZ, event_id VARCHAR, credits_plan DECIMAL(18,4), bank_at_start DECIMAL(18,4),
    deposits_in_period DECIMAL(18,4), credits_limit DECIMAL(18,4), credits_used DECIMAL(38,4),
    credits_left DECIMAL(38,4), utilization DECIMAL(38,4), tenant_name VARCHAR, policy VARCHAR,
    price_per_credit DECIMAL(18,6), currency VARCHAR, emails VARCHAR, recorded_run INTEGER,
    status VARCHAR, attempts INTEGER, last_error VARCHAR, last_attempt_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ, status_reason VARCHAR);
CREATE OR REPLACE TEMP VIEW snap_src_tenants AS SELECT * FROM {{tenants}};
CREATE OR REPLACE TEMP VIEW snap_src_deposits AS SELECT * FROM {{deposits}};
CREATE OR REPLACE TEMP VIEW snap_src_member_caps AS SELECT * FROM {{member_caps}};
CREATE OR REPLACE TEMP VIEW snap_src_notifications AS SELECT * FROM {{notifications}};
