-- snapshot_state.sql: the bookkeeping of the analysts' snapshot database: its layout, the
-- run whose results it holds and the last run that changed its rows.
-- Inputs: meta.snapshot (snapshot_build.sql). Output: layout, run_seq, run_id, data_run.
SELECT layout, run_seq, run_id, data_run FROM meta.snapshot
