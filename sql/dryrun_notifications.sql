-- dryrun_notifications.sql: the notifications a run recorded, for `creditmeter run --dry-run`
-- (read from the throw-away copy of the warehouse; nothing is sent by a dry run).
-- Inputs: notifications; $1 run_seq. Outputs (rows): tenant_id, period_start (YYYY-MM-DD),
-- kind (utilization | runout), threshold (exact text). Sorted by tenant_id, period_start,
-- threshold.
SELECT tenant_id, strftime(period_start, '%Y-%m-%d'), coalesce(kind, 'utilization'), CAST(threshold AS VARCHAR)
FROM notifications
WHERE recorded_run = $1
ORDER BY tenant_id, period_start, threshold
