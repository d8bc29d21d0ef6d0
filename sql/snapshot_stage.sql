-- snapshot_stage.sql: stage the snapshot's rows of the current scope (snapshot_rows.sql) as
-- Parquet files for the snapshot database, which is a DuckDB database of its own: it reads
-- them, and never the warehouse. Runs on the warehouse connection.
-- Inputs: snap_events_settled, snap_events_open, snap_rated_final, snap_rated_open,
-- snap_periods, snap_invoices, snap_quarantine, snap_tenants, snap_deposits,
-- snap_member_caps, snap_notifications and the scope tables; {{stage}} is a private
-- staging directory.
-- Outputs: {{stage}}/{events_settled,events_open,rated_final,rated_open,period_usage,
-- invoices,quarantine,tenants,deposits,member_caps,notifications}.parquet (lines by line_id, so that the snapshot's tables are
-- clustered by it; the ledgers in their files' order, so that a tenant's rows are together)
-- and
-- {{stage}}/scope_{lines,settled,objects,tenants,invoices}.parquet.
COPY (SELECT * FROM snap_events_settled ORDER BY line_id)
TO '{{stage}}/events_settled.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_events_open ORDER BY line_id)
TO '{{stage}}/events_open.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_rated_final ORDER BY tenant_id, billed_period_start, occurred_at, event_id)
TO '{{stage}}/rated_final.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_rated_open ORDER BY line_id)
TO '{{stage}}/rated_open.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_periods ORDER BY tenant_id, period_start)
TO '{{stage}}/period_usage.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_invoices ORDER BY year, seq)
TO '{{stage}}/invoices.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_quarantine ORDER BY object_key, line_no, line_id, obj_no)
TO '{{stage}}/quarantine.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_tenants ORDER BY tenant_id)
TO '{{stage}}/tenants.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_deposits ORDER BY tenant_id, deposited_at, deposit_id)
TO '{{stage}}/deposits.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_member_caps ORDER BY tenant_id, user_id)
TO '{{stage}}/member_caps.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY (SELECT * FROM snap_notifications ORDER BY tenant_id, period_start, threshold)
TO '{{stage}}/notifications.parquet' (FORMAT parquet, COMPRESSION snappy);
COPY snap_scope_lines TO '{{stage}}/scope_lines.parquet' (FORMAT parquet);
COPY snap_scope_settled TO '{{stage}}/scope_settled.parquet' (FORMAT parquet);
COPY snap_scope_objects TO '{{stage}}/scope_objects.parquet' (FORMAT parquet);
COPY snap_scope_tenants TO '{{stage}}/scope_tenants.parquet' (FORMAT parquet);
COPY snap_scope_invoices TO '{{stage}}/scope_invoices.parquet' (FORMAT parquet);
