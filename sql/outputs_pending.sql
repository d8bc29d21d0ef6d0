-- outputs_pending.sql: outputs rendered and committed but not yet in the store (this run's,
-- or a run's that died before publishing them).
-- Removals (sha256 '', pipeline/publish Outbox.Remove) are listed too: Upload deletes them.
-- Inputs: outputs. Output: key, sha256, bytes, run_seq; by key (the index and manifests come
-- last: pipeline/publish orders them).
SELECT key, sha256, bytes, run_seq FROM outputs WHERE NOT published ORDER BY key
