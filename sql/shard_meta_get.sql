-- shard_meta_get.sql: a value a shard keeps between its runs (the state key of its latest
-- slice of ledger/rated_events.parquet).
-- Inputs: meta; $1 name. Output: value (no row when unset).
SELECT value FROM meta WHERE name = $1
