-- snapshot_scope_run.sql: the scope of a run's delta to the analysts' snapshot: a superset
-- of the rows the run may have changed (BILLING.md section 5, "Cost": in proportion to what
-- is new, to the open working set it validated and to what it finalized, never to history).
-- Runs on the run's connection after its results committed.
-- Inputs: the run's temp tables changed_lines and removed_lines (loading), checked (every
-- pending line validated), dirty (the tenants recomputed) and cfg_tenants; frozen_events,
-- objects, periods, invoices; $1 run_seq.
-- Outputs (temp): snap_scope_lines (lines loaded, removed or moved by loading, validated,
-- or frozen by this run), snap_scope_moved (lines loaded or moved by loading),
-- snap_scope_objects (every version of the keys this run read: an unreadable object
-- replaced by a new ETag leaves the quarantine), snap_scope_tenants (the recomputed tenants,
-- and those no longer configured: their open periods went), snap_scope_invoices (issued by
-- this run), snap_configured (the configured tenants); the variable snap_since ($1: the
-- events frozen by this run; no other final event changes).
-- (The events a run freezes are among those it validated; they are listed again so that the
-- scope does not depend on it. Tenants in periods without a configuration keep only final
-- periods, which a configuration cannot drop: listed so that the snapshot keeps them.)
CREATE OR REPLACE TEMP TABLE snap_scope_lines AS
SELECT line_id FROM changed_lines
UNION SELECT line_id FROM removed_lines
UNION SELECT line_id FROM checked
UNION SELECT line_id FROM frozen_events WHERE finalized_run = $1;
CREATE OR REPLACE TEMP TABLE snap_scope_moved AS SELECT line_id FROM changed_lines;
CREATE OR REPLACE TEMP TABLE snap_scope_objects AS
SELECT obj_no FROM objects WHERE key IN (SELECT key FROM objects WHERE run_seq = $1);
CREATE OR REPLACE TEMP TABLE snap_scope_tenants AS
SELECT tenant_id FROM dirty
UNION SELECT tenant_id FROM periods WHERE tenant_id NOT IN (SELECT tenant_id FROM cfg_tenants);
CREATE OR REPLACE TEMP TABLE snap_scope_invoices AS
SELECT invoice_number FROM invoices WHERE issued_run = $1;
CREATE OR REPLACE TEMP TABLE snap_configured AS SELECT tenant_id FROM cfg_tenants;
SET VARIABLE snap_since = $1;
