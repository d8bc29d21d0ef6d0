-- load_users_read.sql: the rows of a staged user directory object (users/*.csv: user_id,
-- username, first_name, last_name), read on the loader's scratch database.
-- Inputs: $1 the staged file. Output: user_id, username, first_name, last_name; rows
-- without a user_id left out.
SELECT user_id, username, first_name, last_name
FROM read_csv($1::VARCHAR, header = true, all_varchar = true, quote = '"', escape = '"',
    strict_mode = false, ignore_errors = true,
    columns = {'user_id': 'VARCHAR', 'username': 'VARCHAR', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR'})
WHERE user_id IS NOT NULL AND user_id <> ''
