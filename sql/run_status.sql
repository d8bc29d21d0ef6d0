-- run_status.sql: the state a run reached.
-- Inputs: $1 run_seq, $2 status (committed | succeeded | failed). Output: runs updated.
UPDATE runs SET status = $2 WHERE run_seq = $1;
