-- more.sql: a later run's new input for acme: an early January event (which would move the
-- January crossings if they were recomputed; they must not be) and March usage.
-- March: limit = plan 100 + bank at start (200 deposited - 150 used) 50 = 150.
INSERT INTO rated_events VALUES
    (11, 0, 'acme', 'a0', 'u4', '2026-01-01 01:00:00+00', 0, '2026-01-01', '2026-02-01', true, 'creator@x', NULL, NULL, false, 2400000, 0, 1000000, 1400000, 0, 0),
    (12, 0, 'acme', 'm1', 'u4', '2026-03-03 07:00:00+00', 2, '2026-03-01', '2026-04-01', false, 'creator@x', NULL, NULL, false, 1300000, 0, 1000000, 300000, 0, 0),
    (13, 0, 'acme', 'm2', 'u4', '2026-03-04 07:00:00+00', 2, '2026-03-01', '2026-04-01', false, 'creator@x', NULL, NULL, false, 500000, 0, 0, 200000, 300000, 0);
UPDATE period_calc SET plan_used = 100, bank_used = 50, exceeding_credits = 30 WHERE tenant_id = 'acme' AND period_idx = 2;
