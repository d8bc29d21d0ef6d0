-- snapshot_apply.sql: apply a run's delta to the analysts' snapshot database (pipeline/snapshot),
-- in one transaction of its own. Runs on the snapshot database, never on the warehouse.
-- For each table, the rows the snapshot holds in the run's scope are compared with the rows
-- the warehouse holds in it now (snapshot_stage.sql): rows that differ go, rows that are new
-- come, the rest stay untouched; so a final period's rows are written once and an open
-- period's are replaced only when they change (BILLING.md section 5).
-- Inputs: the staged Parquet files under {{stage}} (rows and scope of the run,
-- configured.parquet); data.*; $1 and $2 the number and name of the run.
-- Outputs: data.events, data.events_open, data.rated_events, data.rated_events_open,
-- data.period_usage, data.invoices, data.quarantine, data.tenants, data.deposits,
-- data.member_caps, data.notifications updated; meta.snapshot (run_seq $1,
-- run_id $2, and data_run $1 when a row changed); temp snap_changed (tbl: the view,
-- tenant_id): one row per row gone or come.

-- The scope. Tenants no longer configured lose their open periods: the snapshot's rows of
-- every such tenant are in scope.
CREATE OR REPLACE TEMP TABLE scope_lines AS
SELECT line_id FROM read_parquet('{{stage}}/scope_lines.parquet');
CREATE OR REPLACE TEMP TABLE scope_settled AS
SELECT line_id FROM read_parquet('{{stage}}/scope_settled.parquet');
CREATE OR REPLACE TEMP TABLE scope_objects AS
SELECT obj_no FROM read_parquet('{{stage}}/scope_objects.parquet');
CREATE OR REPLACE TEMP TABLE scope_invoices AS
SELECT invoice_number FROM read_parquet('{{stage}}/scope_invoices.parquet');
CREATE OR REPLACE TEMP TABLE scope_tenants AS
SELECT tenant_id FROM read_parquet('{{stage}}/scope_tenants.parquet')
UNION
SELECT tenant_id FROM data.period_usage
WHERE tenant_id NOT IN (SELECT tenant_id FROM read_parquet('{{stage}}/configured.parquet'));

-- events: the settled lines, by line_id. Only the lines found (the key column read first) are
-- read in full: the table is clustered by line_id, and what a run moves is mostly new.
CREATE OR REPLACE TEMP TABLE hit_events AS
SELECT t.line_id FROM data.events t SEMI JOIN scope_settled s ON s.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE was_events AS
SELECT t.* FROM data.events t SEMI JOIN hit_events h ON h.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE is_events AS SELECT * FROM read_parquet('{{stage}}/events_settled.parquet');
CREATE OR REPLACE TEMP TABLE gone_events AS SELECT * FROM was_events EXCEPT SELECT * FROM is_events;
CREATE OR REPLACE TEMP TABLE new_events AS SELECT * FROM is_events EXCEPT SELECT * FROM was_events;
DELETE FROM data.events WHERE line_id IN (SELECT line_id FROM gone_events);
INSERT INTO data.events SELECT * FROM new_events ORDER BY line_id;

-- events: the lines of the working set, by line_id.
CREATE OR REPLACE TEMP TABLE hit_events_open AS
SELECT t.line_id FROM data.events_open t SEMI JOIN scope_lines s ON s.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE was_events_open AS
SELECT t.* FROM data.events_open t SEMI JOIN hit_events_open h ON h.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE is_events_open AS SELECT * FROM read_parquet('{{stage}}/events_open.parquet');
CREATE OR REPLACE TEMP TABLE gone_events_open AS SELECT * FROM was_events_open EXCEPT SELECT * FROM is_events_open;
CREATE OR REPLACE TEMP TABLE new_events_open AS SELECT * FROM is_events_open EXCEPT SELECT * FROM was_events_open;
DELETE FROM data.events_open WHERE line_id IN (SELECT line_id FROM gone_events_open);
INSERT INTO data.events_open SELECT * FROM new_events_open ORDER BY line_id;

-- rated_events: events of final periods (frozen once), by line_id; kept in the ledger's
-- order, so that one tenant's rows are found together (its Parquet file).
CREATE OR REPLACE TEMP TABLE hit_rated AS
SELECT t.line_id FROM data.rated_events t SEMI JOIN scope_settled s ON s.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE was_rated AS
SELECT t.* FROM data.rated_events t SEMI JOIN hit_rated h ON h.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE is_rated AS SELECT * FROM read_parquet('{{stage}}/rated_final.parquet');
CREATE OR REPLACE TEMP TABLE gone_rated AS SELECT * FROM was_rated EXCEPT SELECT * FROM is_rated;
CREATE OR REPLACE TEMP TABLE new_rated AS SELECT * FROM is_rated EXCEPT SELECT * FROM was_rated;
DELETE FROM data.rated_events WHERE line_id IN (SELECT line_id FROM gone_rated);
INSERT INTO data.rated_events SELECT * FROM new_rated
ORDER BY tenant_id, billed_period_start, occurred_at, event_id;

-- rated_events: accepted events of the working set, by line_id.
CREATE OR REPLACE TEMP TABLE hit_rated_open AS
SELECT t.line_id FROM data.rated_events_open t SEMI JOIN scope_lines s ON s.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE was_rated_open AS
SELECT t.* FROM data.rated_events_open t SEMI JOIN hit_rated_open h ON h.line_id = t.line_id;
CREATE OR REPLACE TEMP TABLE is_rated_open AS SELECT * FROM read_parquet('{{stage}}/rated_open.parquet');
CREATE OR REPLACE TEMP TABLE gone_rated_open AS SELECT * FROM was_rated_open EXCEPT SELECT * FROM is_rated_open;
CREATE OR REPLACE TEMP TABLE new_rated_open AS SELECT * FROM is_rated_open EXCEPT SELECT * FROM was_rated_open;
DELETE FROM data.rated_events_open WHERE line_id IN (SELECT line_id FROM gone_rated_open);
INSERT INTO data.rated_events_open SELECT * FROM new_rated_open ORDER BY line_id;

-- period_usage, by (tenant_id, period_start)
CREATE OR REPLACE TEMP TABLE was_periods AS
SELECT p.* FROM data.period_usage p SEMI JOIN scope_tenants s ON s.tenant_id = p.tenant_id;
CREATE OR REPLACE TEMP TABLE is_periods AS SELECT * FROM read_parquet('{{stage}}/period_usage.parquet');
CREATE OR REPLACE TEMP TABLE gone_periods AS SELECT * FROM was_periods EXCEPT SELECT * FROM is_periods;
CREATE OR REPLACE TEMP TABLE new_periods AS SELECT * FROM is_periods EXCEPT SELECT * FROM was_periods;
DELETE FROM data.period_usage
WHERE EXISTS (SELECT 1 FROM gone_periods g
              WHERE g.tenant_id = period_usage.tenant_id AND g.period_start = period_usage.period_start);
INSERT INTO data.period_usage SELECT * FROM new_periods ORDER BY tenant_id, period_start;

-- invoices, by invoice_number (issued once, never changed)
CREATE OR REPLACE TEMP TABLE was_invoices AS
SELECT i.* FROM data.invoices i SEMI JOIN scope_invoices s ON s.invoice_number = i.invoice_number;
CREATE OR REPLACE TEMP TABLE is_invoices AS SELECT * FROM read_parquet('{{stage}}/invoices.parquet');
CREATE OR REPLACE TEMP TABLE gone_invoices AS SELECT * FROM was_invoices EXCEPT SELECT * FROM is_invoices;
CREATE OR REPLACE TEMP TABLE new_invoices AS SELECT * FROM is_invoices EXCEPT SELECT * FROM was_invoices;
DELETE FROM data.invoices WHERE invoice_number IN (SELECT invoice_number FROM gone_invoices);
INSERT INTO data.invoices SELECT * FROM new_invoices ORDER BY year, seq;

-- quarantine, by line_id (a line) or obj_no (an unreadable object, without line_id)
CREATE OR REPLACE TEMP TABLE was_quarantine AS
SELECT q.* FROM data.quarantine q
WHERE q.line_id IN (SELECT line_id FROM scope_lines)
   OR (q.line_id IS NULL AND q.obj_no IN (SELECT obj_no FROM scope_objects));
CREATE OR REPLACE TEMP TABLE is_quarantine AS SELECT * FROM read_parquet('{{stage}}/quarantine.parquet');
CREATE OR REPLACE TEMP TABLE gone_quarantine AS SELECT * FROM was_quarantine EXCEPT SELECT * FROM is_quarantine;
CREATE OR REPLACE TEMP TABLE new_quarantine AS SELECT * FROM is_quarantine EXCEPT SELECT * FROM was_quarantine;
DELETE FROM data.quarantine
WHERE line_id IN (SELECT line_id FROM gone_quarantine WHERE line_id IS NOT NULL)
   OR (line_id IS NULL AND obj_no IN (SELECT obj_no FROM gone_quarantine WHERE line_id IS NULL));
INSERT INTO data.quarantine SELECT * FROM new_quarantine ORDER BY object_key, line_no, line_id, obj_no;

-- tenants, deposits, member_caps and notifications: small tables, compared whole (snapshot_rows.sql).
CREATE OR REPLACE TEMP TABLE is_tenants AS SELECT * FROM read_parquet('{{stage}}/tenants.parquet');
CREATE OR REPLACE TEMP TABLE gone_tenants AS SELECT * FROM data.tenants EXCEPT SELECT * FROM is_tenants;
CREATE OR REPLACE TEMP TABLE new_tenants AS SELECT * FROM is_tenants EXCEPT SELECT * FROM data.tenants;
DELETE FROM data.tenants WHERE tenant_id IN (SELECT tenant_id FROM gone_tenants);
INSERT INTO data.tenants SELECT * FROM new_tenants ORDER BY tenant_id;

CREATE OR REPLACE TEMP TABLE is_deposits AS SELECT * FROM read_parquet('{{stage}}/deposits.parquet');
CREATE OR REPLACE TEMP TABLE gone_deposits AS SELECT * FROM data.deposits EXCEPT SELECT * FROM is_deposits;
CREATE OR REPLACE TEMP TABLE new_deposits AS SELECT * FROM is_deposits EXCEPT SELECT * FROM data.deposits;
DELETE FROM data.deposits
WHERE EXISTS (SELECT 1 FROM gone_deposits g
              WHERE g.tenant_id = deposits.tenant_id AND g.deposit_id = deposits.deposit_id);
INSERT INTO data.deposits SELECT * FROM new_deposits ORDER BY tenant_id, deposited_at, deposit_id;

CREATE OR REPLACE TEMP TABLE is_member_caps AS SELECT * FROM read_parquet('{{stage}}/member_caps.parquet');
CREATE OR REPLACE TEMP TABLE gone_member_caps AS SELECT * FROM data.member_caps EXCEPT SELECT * FROM is_member_caps;
CREATE OR REPLACE TEMP TABLE new_member_caps AS SELECT * FROM is_member_caps EXCEPT SELECT * FROM data.member_caps;
DELETE FROM data.member_caps
WHERE EXISTS (SELECT 1 FROM gone_member_caps g
              WHERE g.tenant_id = member_caps.tenant_id AND g.user_id = member_caps.user_id);
INSERT INTO data.member_caps SELECT * FROM new_member_caps ORDER BY tenant_id, user_id;

CREATE OR REPLACE TEMP TABLE is_notifications AS SELECT * FROM read_parquet('{{stage}}/notifications.parquet');
CREATE OR REPLACE TEMP TABLE gone_notifications AS SELECT * FROM data.notifications EXCEPT SELECT * FROM is_notifications;
CREATE OR REPLACE TEMP TABLE new_notifications AS SELECT * FROM is_notifications EXCEPT SELECT * FROM data.notifications;
DELETE FROM data.notifications
WHERE EXISTS (SELECT 1 FROM gone_notifications g
              WHERE g.tenant_id = notifications.tenant_id AND g.period_start = notifications.period_start
                AND g.threshold = notifications.threshold);
INSERT INTO data.notifications SELECT * FROM new_notifications ORDER BY tenant_id, period_start, threshold;

-- What changed, by table and tenant: the Parquet files of these tenants are written again.
CREATE OR REPLACE TEMP TABLE snap_changed AS
SELECT 'events' AS tbl, tenant_id FROM gone_events
UNION ALL SELECT 'events', tenant_id FROM new_events
UNION ALL SELECT 'events', tenant_id FROM gone_events_open
UNION ALL SELECT 'events', tenant_id FROM new_events_open
UNION ALL SELECT 'rated_events', tenant_id FROM gone_rated
UNION ALL SELECT 'rated_events', tenant_id FROM new_rated
UNION ALL SELECT 'rated_events', tenant_id FROM gone_rated_open
UNION ALL SELECT 'rated_events', tenant_id FROM new_rated_open
UNION ALL SELECT 'period_usage', tenant_id FROM gone_periods
UNION ALL SELECT 'period_usage', tenant_id FROM new_periods
UNION ALL SELECT 'invoices', tenant_id FROM gone_invoices
UNION ALL SELECT 'invoices', tenant_id FROM new_invoices
UNION ALL SELECT 'quarantine', tenant_id FROM gone_quarantine
UNION ALL SELECT 'quarantine', tenant_id FROM new_quarantine
UNION ALL SELECT 'tenants', tenant_id FROM gone_tenants
UNION ALL SELECT 'tenants', tenant_id FROM new_tenants
UNION ALL SELECT 'deposits', tenant_id FROM gone_deposits
UNION ALL SELECT 'deposits', tenant_id FROM new_deposits
UNION ALL SELECT 'member_caps', tenant_id FROM gone_member_caps
UNION ALL SELECT 'member_caps', tenant_id FROM new_member_caps
UNION ALL SELECT 'notifications', tenant_id FROM gone_notifications
UNION ALL SELECT 'notifications', tenant_id FROM new_notifications;

UPDATE meta.snapshot SET run_seq = $1, run_id = $2,
    data_run = CASE WHEN EXISTS (SELECT 1 FROM snap_changed) THEN $1 ELSE data_run END;
