-- close_index.sql: the output index of a sharded fleet (runs/outputs.csv): the close step's
-- own outputs (the fleet-wide files, invoice documents, quarantine files, the analysts'
-- database) and every shard's, each with the run that wrote it.
-- Inputs: outputs, runs, close_shard_outputs (a view over the shards' outputs.parquet).
-- Output: key, sha256, bytes, run_id; by key.
SELECT key, sha256, bytes, run_id FROM (
    SELECT o.key, o.sha256, o.bytes, coalesce(r.run_id, '') AS run_id
    FROM outputs o LEFT JOIN runs r ON r.run_seq = o.run_seq
    UNION ALL
    SELECT key, sha256, bytes, run_id FROM close_shard_outputs
) ORDER BY key
