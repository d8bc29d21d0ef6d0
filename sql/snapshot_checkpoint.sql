-- snapshot_checkpoint.sql: write the analysts' snapshot database out in full before it is
-- closed, so that no write-ahead log is left beside it.
-- Inputs: the snapshot database. Outputs: none (its file is checkpointed).
CHECKPOINT;
