-- snapshot_scope_all.sql: the scope of a full build of the analysts' snapshot: everything
-- stored (see snapshot_rows.sql).
-- Inputs: lines, objects, periods, invoices.
-- Outputs (temp): snap_scope_lines, snap_scope_moved (empty), snap_scope_objects,
-- snap_scope_tenants, snap_scope_invoices; the variable snap_since (0: every frozen event).
SET VARIABLE snap_since = 0;
CREATE OR REPLACE TEMP TABLE snap_scope_lines AS SELECT line_id FROM lines;
CREATE OR REPLACE TEMP TABLE snap_scope_moved (line_id BIGINT);
CREATE OR REPLACE TEMP TABLE snap_scope_objects AS SELECT obj_no FROM objects WHERE status = 'unreadable';
CREATE OR REPLACE TEMP TABLE snap_scope_tenants AS SELECT DISTINCT tenant_id FROM periods;
CREATE OR REPLACE TEMP TABLE snap_scope_invoices AS SELECT invoice_number FROM invoices;
