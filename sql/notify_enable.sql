-- notify_enable.sql: record the first run with e-mail delivery configured, and in that run
-- suppress the pending notifications of periods that are final once it commits (issue 12):
-- turning e-mail on for a deployment with history sends only the crossings of periods that
-- are still open, not a backlog of old alerts (a January 90% notice in April). Suppressed
-- notifications are never sent; the outbox shows them with their reason. Runs inside the
-- run's result transaction, after notify_record.sql; later runs change nothing here.
-- Inputs: notifications, notify_delivery, cfg_periods (was_final, finalize), runs; $1 the
-- run number. Outputs: notify_delivery (its one row, the first time), notifications
-- (status suppressed, status_reason) in that first run only.
INSERT INTO notify_delivery SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM notify_delivery);

UPDATE notifications
SET status = 'suppressed',
    status_reason = 'not sent: the period was final when e-mail delivery was first enabled (run '
        || coalesce((SELECT run_id FROM runs WHERE run_seq = $1), CAST($1 AS VARCHAR))
        || '); only crossings in periods open then are sent'
WHERE status = 'pending' AND attempts = 0
  AND (SELECT min(enabled_run) FROM notify_delivery) = $1
  AND EXISTS (SELECT 1 FROM cfg_periods p
              WHERE p.tenant_id = notifications.tenant_id AND p.period_start = notifications.period_start
                AND (p.was_final OR p.finalize));
