-- shard_meta_set.sql: keep a value between a shard's runs.
-- Inputs: $1 name, $2 value. Output: meta.
INSERT OR REPLACE INTO meta VALUES ($1, $2);
