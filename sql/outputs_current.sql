-- outputs_current.sql: the output index: every current output with its checksum.
-- Inputs: outputs. Output: key, sha256, bytes, run_seq, published, final; by key.
SELECT key, sha256, bytes, run_seq, published, final FROM outputs ORDER BY key
