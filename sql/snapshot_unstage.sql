-- snapshot_unstage.sql: drop what the snapshot's staging left on the warehouse connection.
-- Inputs: none. Outputs: the temp views and tables of snapshot_rows.sql,
-- snapshot_sources.sql, snapshot_scope_all.sql and snapshot_scope_run.sql dropped, the variable snap_since reset.
DROP VIEW IF EXISTS snap_events_settled;
DROP VIEW IF EXISTS snap_events_open;
DROP VIEW IF EXISTS snap_rated_final;
DROP VIEW IF EXISTS snap_rated_open;
DROP VIEW IF EXISTS snap_periods;
DROP VIEW IF EXISTS snap_invoices;
DROP VIEW IF EXISTS snap_quarantine;
DROP VIEW IF EXISTS snap_tenants;
DROP VIEW IF EXISTS snap_deposits;
DROP VIEW IF EXISTS snap_member_caps;
DROP VIEW IF EXISTS snap_notifications;
DROP VIEW IF EXISTS snap_src_tenants;
DROP VIEW IF EXISTS snap_src_deposits;
DROP VIEW IF EXISTS snap_src_member_caps;
DROP VIEW IF EXISTS snap_src_notifications;
DROP TABLE IF EXISTS snap_none_tenants;
DROP TABLE IF EXISTS snap_none_deposits;
DROP TABLE IF EXISTS snap_none_member_caps;
DROP TABLE IF EXISTS snap_none_notifications;
DROP TABLE IF EXISTS snap_scope_lines;
DROP TABLE IF EXISTS snap_scope_objects;
DROP TABLE IF EXISTS snap_scope_tenants;
DROP TABLE IF EXISTS snap_scope_invoices;
DROP TABLE IF EXISTS snap_configured;
DROP TABLE IF EXISTS snap_scope_moved;
DROP TABLE IF EXISTS snap_scope_settled;
RESET VARIABLE snap_since;
