-- diff_run.sql: one run by its id (or its number), for `creditmeter diff`.
-- Inputs: runs; $1 a run id (20260406T000000Z-000007) or a run number as text.
-- Output: at most one row: run_seq, run_id, now (Unix µs), status.
SELECT run_seq, run_id, epoch_us(now), status
FROM runs
WHERE run_id = $1::VARCHAR OR CAST(run_seq AS VARCHAR) = $1::VARCHAR
ORDER BY run_id = $1::VARCHAR DESC
LIMIT 1
