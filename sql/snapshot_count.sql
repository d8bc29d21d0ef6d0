-- snapshot_count.sql: how many rows the snapshot database holds (a rebuild's count).
-- Inputs: data.events, data.events_open, data.rated_events, data.rated_events_open,
-- data.period_usage, data.invoices, data.quarantine, data.tenants, data.deposits,
-- data.member_caps, data.notifications.
-- Output: one count.
SELECT (SELECT count(*) FROM data.events) + (SELECT count(*) FROM data.events_open)
    + (SELECT count(*) FROM data.rated_events) + (SELECT count(*) FROM data.rated_events_open)
    + (SELECT count(*) FROM data.period_usage) + (SELECT count(*) FROM data.invoices)
    + (SELECT count(*) FROM data.quarantine) + (SELECT count(*) FROM data.tenants)
    + (SELECT count(*) FROM data.deposits) + (SELECT count(*) FROM data.member_caps)
    + (SELECT count(*) FROM data.notifications)
