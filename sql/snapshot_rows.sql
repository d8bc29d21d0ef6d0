-- snapshot_rows.sql: the rows of the analysts' snapshot (pipeline/snapshot), read from the
-- warehouse's persistent tables and restricted to a scope, so that the same definitions
-- serve a full build (the scope is everything: snapshot_scope_all.sql) and a run's delta
-- (the scope is what the run may have changed: snapshot_scope_run.sql).
-- Lines and accepted events come in two parts: settled (outside the open working set:
-- duplicates, lines quarantined at loading, events of final periods; they change only when
-- loading moves or removes them) and open (the working set, pending: validated again and
-- funded again by the runs; read from its own copy of the fields, never from lines).
-- Inputs: lines, objects, pending, frozen_events, periods, invoices, and the views
-- snap_src_tenants, snap_src_deposits, snap_src_member_caps, snap_src_notifications
-- (snapshot_sources.sql); the scope tables
-- snap_scope_lines (line_id: every line in scope), snap_scope_moved (line_id: lines that
-- loading moved, which may leave the settled part), snap_scope_objects (obj_no),
-- snap_scope_tenants (tenant_id), snap_scope_invoices (invoice_number); the variable
-- snap_since: the first run whose frozen events are in scope (events frozen earlier never
-- change).
-- Outputs (temp): the table snap_scope_settled (the lines in scope for the settled part);
-- the views snap_events_settled, snap_events_open, snap_rated_final, snap_rated_open,
-- snap_periods, snap_invoices, snap_quarantine, snap_tenants, snap_deposits,
-- snap_member_caps, snap_notifications: the columns of the documented views (README,
-- "The analysts' snapshot"), then their keys in the snapshot: line_id (events, rated,
-- quarantine), obj_no (quarantine: an unreadable object has no line).
-- Personal data (username, first_name, last_name) and raw line text are never selected.
CREATE OR REPLACE TEMP MACRO snap_e4(x) AS CAST(CAST(x AS DECIMAL(18,0)) * 0.0001 AS DECIMAL(18,4));

-- The scope's lines outside the working set, and those loading moved (a duplicate promoted
-- to first leaves the settled part).
CREATE OR REPLACE TEMP TABLE snap_scope_settled AS
SELECT s.line_id FROM snap_scope_lines s ANTI JOIN pending p ON p.line_id = s.line_id
UNION
SELECT line_id FROM snap_scope_moved;

-- Settled lines with their fate: the loading status, or the final period that billed them.
CREATE OR REPLACE TEMP VIEW snap_events_settled AS
SELECT o.key AS object_key, l.line_no, o.format, l.event_id, l.occurred_at, l.tenant_id,
    l.domain_name, l.user_id, l.event_type, l.event_value, l.event_unit, l.preview, l.attributes,
    CASE WHEN l.status = 'event' THEN 'accepted' ELSE l.status END AS status,
    CASE WHEN l.status = 'event' THEN NULL ELSE l.reason END AS reason,
    CASE WHEN l.status = 'event' THEN NULL ELSE l.field END AS field,
    f.billed_period_start,
    l.line_id
FROM lines l
SEMI JOIN snap_scope_settled s ON s.line_id = l.line_id
ANTI JOIN pending p ON p.line_id = l.line_id
JOIN objects o ON o.obj_no = l.obj_no
LEFT JOIN (SELECT line_id, billed_period_start FROM frozen_events
           WHERE finalized_run >= getvariable('snap_since')) f ON f.line_id = l.line_id;

-- Lines of the working set with their latest validation.
CREATE OR REPLACE TEMP VIEW snap_events_open AS
SELECT p.key AS object_key, p.line_no, o.format, p.event_id, p.occurred_at, p.tenant_id,
    p.domain_name, p.user_id, p.event_type, p.event_value, p.event_unit, p.preview, p.attributes,
    CASE WHEN p.reason IS NULL THEN 'accepted' ELSE 'quarantined' END AS status,
    p.reason, p.field, p.billed_period_start,
    p.line_id
FROM pending p
SEMI JOIN snap_scope_lines s ON s.line_id = p.line_id
JOIN objects o ON o.obj_no = p.obj_no;

-- Accepted events frozen in a final period: written once.
CREATE OR REPLACE TEMP VIEW snap_rated_final AS
SELECT f.event_id, f.tenant_id, f.user_id, f.event_type, f.occurred_at, f.billed_period_start,
    f.billed_period_end, f.rate_card_version, f.reason, f.late, snap_e4(f.rated_e4) AS rated_credits,
    f.allowance_pool, snap_e4(f.allowance_e4) AS allowance_units, snap_e4(f.plan_e4) AS plan_credits,
    snap_e4(f.bank_e4) AS bank_credits, snap_e4(f.exceeding_e4) AS exceeding_credits,
    snap_e4(f.blocked_e4) AS blocked_credits,
    f.line_id
FROM frozen_events f
SEMI JOIN snap_scope_settled s ON s.line_id = f.line_id
WHERE f.finalized_run >= getvariable('snap_since');

-- Accepted events of the working set, billed in a reported period (its end is the ledger's).
CREATE OR REPLACE TEMP VIEW snap_rated_open AS
SELECT p.event_id, p.tenant_id, p.user_id, p.event_type, p.occurred_at, p.billed_period_start,
    pr.period_end AS billed_period_end, p.rate_card_version, p.rate_reason AS reason, p.late,
    snap_e4(p.rated_e4) AS rated_credits, p.allowance_pool,
    snap_e4(p.allowance_e4) AS allowance_units, snap_e4(p.plan_e4) AS plan_credits,
    snap_e4(p.bank_e4) AS bank_credits, snap_e4(p.exceeding_e4) AS exceeding_credits,
    snap_e4(p.blocked_e4) AS blocked_credits,
    p.line_id
FROM pending p
SEMI JOIN snap_scope_lines s ON s.line_id = p.line_id
JOIN periods pr ON pr.tenant_id = p.tenant_id AND pr.period_start = p.billed_period_start
WHERE p.validated_run IS NOT NULL AND p.reason IS NULL;

CREATE OR REPLACE TEMP VIEW snap_periods AS
SELECT tenant_id, period_start, period_end, status, credits_plan, plan_used, bank_used,
    bank_remaining, exceeding_credits, blocked_credits, allowance_units_used, events, rated_credits
FROM periods SEMI JOIN snap_scope_tenants s ON s.tenant_id = periods.tenant_id;

-- invoices: the register's columns (amount is the net; issue 12 added the due date, the
-- customer invoiced, the tax and the total), typed
CREATE OR REPLACE TEMP VIEW snap_invoices AS
SELECT invoice_number, year, seq, tenant_id, period_start, period_end, currency,
    exceeding_credits, price_per_credit, amount, issued_on, due_date, customer_name, tax_label,
    tax_rate, tax_amount, total_amount
FROM invoices SEMI JOIN snap_scope_invoices s ON s.invoice_number = invoices.invoice_number;

-- Quarantined lines (at loading, or by validation in the working set) and unreadable objects.
CREATE OR REPLACE TEMP VIEW snap_quarantine AS
SELECT o.key AS object_key, l.line_no, l.reason, l.field, l.event_id, l.tenant_id, l.user_id,
    l.event_type, l.occurred_at, l.line_id, l.obj_no
FROM lines l
SEMI JOIN snap_scope_settled s ON s.line_id = l.line_id
JOIN objects o ON o.obj_no = l.obj_no
WHERE l.status = 'quarantined'
UNION ALL
SELECT p.key, p.line_no, p.reason, p.field, p.event_id, p.tenant_id, p.user_id, p.event_type,
    p.occurred_at, p.line_id, p.obj_no
FROM pending p SEMI JOIN snap_scope_lines s ON s.line_id = p.line_id
WHERE p.reason IS NOT NULL
UNION ALL
SELECT o.key, NULL, o.reason, NULL, NULL, NULL, NULL, NULL, NULL, NULL, o.obj_no
FROM objects o SEMI JOIN snap_scope_objects s ON s.obj_no = o.obj_no
WHERE o.status = 'unreadable';

-- The configuration of the latest run and the notifications (issue 12): small tables (a few
-- rows per tenant and period), in scope whole on every run: each run compares them all.
-- No personal data: members by user_id; notifications without their recipients (emails).
CREATE OR REPLACE TEMP VIEW snap_tenants AS
SELECT tenant_id, tenant_name, currency, timezone, period, anchor_day, service_start, service_end,
    credits_plan, policy, price_per_credit, rate_card, payment_days
FROM snap_src_tenants;

CREATE OR REPLACE TEMP VIEW snap_deposits AS
SELECT tenant_id, deposit_id, credits, deposited_at FROM snap_src_deposits;

CREATE OR REPLACE TEMP VIEW snap_member_caps AS
SELECT tenant_id, user_id, cap FROM snap_src_member_caps;

CREATE OR REPLACE TEMP VIEW snap_notifications AS
SELECT tenant_id, period_start, period_end, threshold, crossed_at, event_id, credits_plan,
    bank_at_start, deposits_in_period, credits_limit, credits_used, credits_left, utilization,
    policy, price_per_credit, currency, status, status_reason, attempts, last_error,
    last_attempt_at, sent_at, recorded_run
FROM snap_src_notifications;
