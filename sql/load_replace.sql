-- load_replace.sql: forget the earlier versions of the batch's keys read again with another
-- ETag (BILLING.md section 5): their lines go, except lines billed in final periods, which
-- stand. Run only when the batch replaces a key (a scan of lines).
-- Inputs: stage_objects, objects, pending, dup_lines, frozen_events, lines, user_directory.
-- Outputs: objects (status replaced), pending, dup_lines, lines and user_directory rows
-- deleted; gone_firsts (the open first lines that went: their identities are ranked again);
-- dirty_tenants (tenants that lost an accepted event); removed_lines.
CREATE OR REPLACE TEMP TABLE replaced AS
SELECT o.obj_no FROM objects o JOIN stage_objects s ON s.key = o.key WHERE o.status <> 'replaced';
UPDATE objects SET status = 'replaced' WHERE obj_no IN (SELECT obj_no FROM replaced);
CREATE OR REPLACE TEMP TABLE gone_firsts AS
SELECT line_id, tenant_id, event_id, validated_run IS NOT NULL AND reason IS NULL AS accepted
FROM pending WHERE obj_no IN (SELECT obj_no FROM replaced);
INSERT OR IGNORE INTO dirty_tenants SELECT DISTINCT tenant_id FROM gone_firsts WHERE accepted;
DELETE FROM pending WHERE obj_no IN (SELECT obj_no FROM replaced);
DELETE FROM dup_lines WHERE (line_id >> 32) IN (SELECT obj_no FROM replaced);
INSERT INTO removed_lines
SELECT l.line_id FROM lines l
WHERE l.obj_no IN (SELECT obj_no FROM replaced)
  AND l.line_id NOT IN (SELECT line_id FROM frozen_events WHERE (line_id >> 32) IN (SELECT obj_no FROM replaced));
DELETE FROM lines WHERE line_id IN (SELECT line_id FROM removed_lines);
DELETE FROM user_directory WHERE obj_no IN (SELECT obj_no FROM replaced);

