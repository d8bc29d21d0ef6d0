-- snapshot_published.sql: the analysts' snapshot files in the output index, so that a
-- snapshot change whose files never reached it (a run that died after updating the
-- snapshot) is published again, and a tenant whose Parquet rows all went gets an empty file.
-- Inputs: outputs. Output: key, run_seq (the run that rendered it) of every analytics/ output.
SELECT key, run_seq FROM outputs WHERE key LIKE 'analytics/%' ORDER BY key
