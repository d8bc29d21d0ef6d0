-- run_ids.sql: every run by number, for the output index.
-- Inputs: runs. Output: run_seq, run_id.
SELECT run_seq, run_id FROM runs ORDER BY run_seq
