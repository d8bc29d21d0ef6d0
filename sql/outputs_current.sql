-- outputs_current.sql: the output index: every current output with its checksum, and the
-- removals not yet done (sha256 '': pipeline/publish leaves them out of runs/outputs.csv).
-- Inputs: outputs. Output: key, sha256, bytes, run_seq, published, final; by key.
SELECT key, sha256, bytes, run_seq, published, final FROM outputs ORDER BY key
