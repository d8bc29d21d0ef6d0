-- snapshot_config.sql: keep the run's configuration of its tenants in the warehouse, for the
-- analysts' snapshot (pipeline/snapshot): the views tenants, deposits and member_caps show
-- the configuration of the run the snapshot holds, and a rebuild from the warehouse alone
-- (snapshot.Rebuild, on any connection) must give the same rows as the run's delta. Run by
-- snapshot.Update on the run's connection, in a transaction of its own, before staging;
-- the rows are replaced whole (a few per tenant). No personal data: members by user_id.
-- Inputs: cfg_tenants, cfg_calendar, cfg_deposits (config_tables.sql).
-- Outputs: the warehouse tables snapshot_tenants, snapshot_deposits, snapshot_member_caps
-- (created when missing), holding the configuration of the latest run.
CREATE TABLE IF NOT EXISTS snapshot_tenants (
    tenant_id        VARCHAR NOT NULL,
    tenant_name      VARCHAR,
    currency         VARCHAR NOT NULL,
    timezone         VARCHAR NOT NULL,
    period           VARCHAR NOT NULL,
    anchor_day       INTEGER NOT NULL,
    service_start    DATE NOT NULL,
    service_end      DATE NOT NULL,
    credits_plan     DECIMAL(18,4) NOT NULL,
    policy           VARCHAR NOT NULL,
    price_per_credit DECIMAL(18,6),          -- NULL under policy block
    rate_card        VARCHAR NOT NULL,
    payment_days     INTEGER
);
CREATE TABLE IF NOT EXISTS snapshot_deposits (
    tenant_id    VARCHAR NOT NULL,
    deposit_id   VARCHAR NOT NULL,
    credits      DECIMAL(18,4) NOT NULL,
    deposited_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_member_caps (
    tenant_id VARCHAR NOT NULL,
    user_id   VARCHAR NOT NULL,
    cap       DECIMAL(18,4) NOT NULL
);
DELETE FROM snapshot_tenants;
INSERT INTO snapshot_tenants
SELECT t.tenant_id, nullif(t.tenant_name, ''), t.currency, t.timezone, c.period, c.anchor_day, c.service_start,
    c.service_end, t.credits_plan, t.policy, CASE WHEN t.policy = 'bill' THEN t.price END, t.rate_card,
    t.payment_days
FROM cfg_tenants t JOIN cfg_calendar c ON c.tenant_id = t.tenant_id
ORDER BY t.tenant_id;
DELETE FROM snapshot_deposits;
INSERT INTO snapshot_deposits
SELECT tenant_id, deposit, credits, deposit_at FROM cfg_deposits ORDER BY tenant_id, deposit_at, deposit;
DELETE FROM snapshot_member_caps;
INSERT INTO snapshot_member_caps
SELECT t.tenant_id, m.user_id, CAST(m.cap AS DECIMAL(18,4))
FROM cfg_tenants t,
    unnest(CAST(from_json(coalesce(t.member_caps, '[]'), '[{"user_id":"VARCHAR","cap":"VARCHAR"}]')
        AS STRUCT(user_id VARCHAR, cap VARCHAR)[])) AS u(m)
ORDER BY t.tenant_id, m.user_id;
