-- run_record.sql: record a completed run.
-- Inputs: $1 run_seq, $2 run_id, $3 now, $4 status. Output: a row of runs.
INSERT OR REPLACE INTO runs VALUES ($1, $2, $3, $4);
