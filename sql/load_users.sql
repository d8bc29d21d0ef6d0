-- load_users.sql: record the user directories of the batch (users/*.csv objects); the
-- tenants with open events of these users are marked dirty (their restricted usage reports
-- show the names).
-- Inputs: stage_users, pending. Outputs: rows of user_directory, dirty_tenants; stage_users
-- emptied.
INSERT INTO user_directory SELECT * FROM stage_users;
INSERT OR IGNORE INTO dirty_tenants
SELECT DISTINCT p.tenant_id FROM pending p
WHERE p.user_id IN (SELECT user_id FROM stage_users);
DELETE FROM stage_users;
