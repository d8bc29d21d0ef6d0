-- close_round.sql: what the close step's database says of a round: its status, or no row
-- when no close of it committed.
-- Inputs: runs; $1 the round's number. Output: status.
SELECT status FROM runs WHERE run_seq = $1
