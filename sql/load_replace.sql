-- load_replace.sql: forget what an earlier version of an object brought in (BILLING.md
-- section 5: a key whose ETag changed is re-read and replaces its events).
-- Inputs: $1 the object key. Outputs: its rows removed from lines and user_directory.
DELETE FROM lines WHERE key = $1;
DELETE FROM user_directory WHERE key = $1;
