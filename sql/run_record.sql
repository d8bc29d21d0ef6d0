-- run_record.sql: start recording a run.
-- Inputs: $1 run_seq, $2 run_id, $3 now, $4 wall-clock start. Output: a row of runs, status
-- started (committed once its results are, succeeded once its outputs are published).
INSERT INTO runs VALUES ($1, $2, $3, $4, 'started');
