-- close_published.sql: whether the close step of a sharded fleet has published an output
-- (the analysts' database: a round that changed nothing merges the snapshots only when it
-- was never published).
-- Inputs: outputs; $1 the key. Output: one row when it is in the output index, else none.
SELECT 1 FROM outputs WHERE key = $1
