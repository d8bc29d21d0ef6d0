-- notify_mark.sql: record one delivery attempt of a notification.
-- Inputs: $1 tenant_id, $2 period_start (YYYY-MM-DD), $3 threshold (text), $4 status
-- (sent | failed), $5 last error (NULL when sent), $6 attempt time, $7 recipients (space
-- separated). Outputs: the notification's delivery columns; sent_at is set once, when sent.
UPDATE notifications
SET status = $4, attempts = attempts + 1, last_error = $5, last_attempt_at = $6,
    sent_at = CASE WHEN $4 = 'sent' THEN $6 ELSE sent_at END, emails = $7
WHERE tenant_id = $1 AND period_start = CAST($2 AS DATE) AND threshold = CAST($3 AS DECIMAL(18,6))
    AND status <> 'sent';
