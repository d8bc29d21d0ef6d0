-- load_users.sql: read one user directory object (users/*.csv: user_id, username,
-- first_name, last_name).
-- Inputs: $1 the staged CSV file, $2 its key. Outputs: rows appended to user_directory.
INSERT INTO user_directory
SELECT $2::VARCHAR, user_id, username, first_name, last_name
FROM read_csv($1, header = true, all_varchar = true,
    columns = {'user_id': 'VARCHAR', 'username': 'VARCHAR', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR'})
WHERE user_id IS NOT NULL AND user_id <> '';
