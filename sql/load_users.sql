-- load_users.sql: read one user directory object (users/*.csv: user_id, username,
-- first_name, last_name).
-- Inputs: $1 the staged CSV file, $2 its key, $3 its obj_no. Outputs: rows appended to
-- user_directory; the tenants with open events of these users are marked dirty (their
-- restricted usage reports show the names).
INSERT INTO user_directory
SELECT $3::INTEGER, $2::VARCHAR, user_id, username, first_name, last_name
FROM read_csv($1, header = true, all_varchar = true, strict_mode = false, ignore_errors = true,
    columns = {'user_id': 'VARCHAR', 'username': 'VARCHAR', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR'})
WHERE user_id IS NOT NULL AND user_id <> '';
INSERT OR IGNORE INTO dirty_tenants
SELECT DISTINCT p.tenant_id FROM pending p
WHERE p.user_id IN (SELECT user_id FROM user_directory WHERE obj_no = $3::INTEGER);
