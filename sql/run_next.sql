-- run_next.sql: the sequence number of the next run.
-- Inputs: runs. Output: one integer.
SELECT coalesce(max(run_seq), 0) + 1 FROM runs;
