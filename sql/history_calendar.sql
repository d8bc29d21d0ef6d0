-- history_calendar.sql: the calendar each tenant with final periods was computed with.
-- Inputs: tenant_calendar, periods. Output: tenant_id, timezone, period, anchor_day,
-- service_start, service_end (YYYY-MM-DD).
SELECT c.tenant_id, c.timezone, c.period, c.anchor_day, strftime(c.service_start, '%Y-%m-%d'),
    strftime(c.service_end, '%Y-%m-%d')
FROM tenant_calendar c
WHERE c.tenant_id IN (SELECT tenant_id FROM periods WHERE status = 'final')
