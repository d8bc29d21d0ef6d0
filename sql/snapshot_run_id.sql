-- snapshot_run_id.sql: the name of a run, to check that the analysts' snapshot holds the
-- results of this warehouse's previous run (and not of another warehouse's run of the same
-- number).
-- Inputs: runs; $1 run_seq. Output: run_id (no row for an unknown run).
SELECT run_id FROM runs WHERE run_seq = $1
