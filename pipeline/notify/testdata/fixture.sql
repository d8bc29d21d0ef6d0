-- fixture.sql: the per-run tables notify reads, as a run leaves them after aggregation.
-- Run after sql/config_tables.sql (which creates cfg_* and the e4 macro).
-- Tenants: acme (bill, plan 100, deposits 150 on Jan 1 and 50 on Feb 10, thresholds 0.9 and 1),
-- zero (block, nothing available: the first charged event crosses everything),
-- quiet (no thresholds configured: never notified).
INSERT INTO cfg_tenants (tenant_no, tenant_id, tenant_name, rate_card, timezone, currency, policy, price,
    credits_plan, service_from, service_until, config_digest, horizon_idx) VALUES
    (0, 'acme', 'Acme Learning', 'creator', 'UTC', 'EUR', 'bill', 0.05, 100, '2026-01-01 00:00:00+00', '2027-01-01 00:00:00+00', 'd', 0),
    (1, 'zero', 'Zéro Formation', 'creator', 'UTC', 'EUR', 'block', 0, 0, '2026-01-01 00:00:00+00', '2027-01-01 00:00:00+00', 'd', 0),
    (2, 'quiet', 'Quiet Co', 'creator', 'UTC', 'USD', 'bill', 0.10, 100, '2026-01-01 00:00:00+00', '2027-01-01 00:00:00+00', 'd', 0);
INSERT INTO cfg_periods
SELECT t.tenant_no, t.tenant_id, m.idx, m.s, m.e, m.s::TIMESTAMPTZ, m.e::TIMESTAMPTZ, false, false, true, m.idx = 0
FROM cfg_tenants t, (VALUES (0, DATE '2026-01-01', DATE '2026-02-01'), (1, DATE '2026-02-01', DATE '2026-03-01'),
    (2, DATE '2026-03-01', DATE '2026-04-01')) m(idx, s, e);
INSERT INTO cfg_deposits VALUES
    ('acme', 'PO-1', 150, '2026-01-01 00:00:00+00'),
    ('acme', 'PO-2', 50, '2026-02-10 00:00:00+00');
CREATE OR REPLACE TEMP TABLE rated_events (
    lid BIGINT, tenant_no INTEGER, tenant_id VARCHAR, event_id VARCHAR, user_id VARCHAR,
    occurred_at TIMESTAMPTZ, billed_idx INTEGER, billed_period_start DATE, billed_period_end DATE,
    late BOOLEAN, rate_card_version VARCHAR, reason VARCHAR, allowance_pool VARCHAR, frozen BOOLEAN,
    rated_e4 BIGINT, allowance_e4 BIGINT, plan_e4 BIGINT, bank_e4 BIGINT, exceeding_e4 BIGINT, blocked_e4 BIGINT
);
INSERT INTO rated_events VALUES
    (1, 0, 'acme', 'a1', 'u1', '2026-01-05 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 1000000, 0, 1000000, 0, 0, 0),
    (2, 0, 'acme', 'a2', 'u1', '2026-01-10 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 1000000, 0, 0, 1000000, 0, 0),
    (3, 0, 'acme', 'a3', 'u2', '2026-01-15 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 300000, 0, 0, 300000, 0, 0),
    (4, 0, 'acme', 'a4', 'u2', '2026-01-20 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 400000, 0, 0, 200000, 200000, 0),
    (5, 0, 'acme', 'b0', 'u1', '2026-02-01 09:00:00+00', 1, '2026-02-01', '2026-03-01', false, 'creator@x', 'free_feature', NULL, false, 0, 0, 0, 0, 0, 0),
    (6, 0, 'acme', 'late1', 'u3', '2026-01-30 12:00:00+00', 1, '2026-02-01', '2026-03-01', true, 'creator@x', NULL, NULL, false, 100000, 0, 100000, 0, 0, 0),
    (7, 0, 'acme', 'b1', 'u1', '2026-02-05 08:30:00+00', 1, '2026-02-01', '2026-03-01', false, 'creator@x', NULL, NULL, false, 1500000, 0, 900000, 0, 600000, 0),
    (8, 1, 'zero', 'z1', 'u9', '2026-01-03 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', 'free_feature', NULL, false, 0, 0, 0, 0, 0, 0),
    (9, 1, 'zero', 'z2', 'u9', '2026-01-04 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 100000, 0, 0, 0, 0, 100000),
    (10, 2, 'quiet', 'q1', 'u5', '2026-01-02 10:00:00+00', 0, '2026-01-01', '2026-02-01', false, 'creator@x', NULL, NULL, false, 5000000, 0, 1000000, 0, 4000000, 0);
CREATE OR REPLACE TEMP TABLE period_calc (
    tenant_no INTEGER, tenant_id VARCHAR, period_idx INTEGER, period_start DATE, period_end DATE,
    final BOOLEAN, credits_plan DECIMAL(18,4), plan_used DECIMAL(18,4), bank_used DECIMAL(18,4),
    bank_remaining DECIMAL(18,4), exceeding_credits DECIMAL(18,4), blocked_credits DECIMAL(18,4)
);
INSERT INTO period_calc VALUES
    (0, 'acme', 0, '2026-01-01', '2026-02-01', false, 100, 100, 150, 0, 20, 0),
    (0, 'acme', 1, '2026-02-01', '2026-03-01', false, 100, 100, 0, 50, 60, 0),
    (0, 'acme', 2, '2026-03-01', '2026-04-01', false, 100, 0, 0, 50, 0, 0),
    (1, 'zero', 0, '2026-01-01', '2026-02-01', false, 0, 0, 0, 0, 0, 10),
    (1, 'zero', 1, '2026-02-01', '2026-03-01', false, 0, 0, 0, 0, 0, 0),
    (1, 'zero', 2, '2026-03-01', '2026-04-01', false, 0, 0, 0, 0, 0, 0),
    (2, 'quiet', 0, '2026-01-01', '2026-02-01', false, 100, 100, 0, 0, 400, 0),
    (2, 'quiet', 1, '2026-02-01', '2026-03-01', false, 100, 0, 0, 0, 0, 0),
    (2, 'quiet', 2, '2026-03-01', '2026-04-01', false, 100, 0, 0, 0, 0, 0);
