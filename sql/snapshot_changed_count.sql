-- snapshot_changed_count.sql: how many snapshot rows the delta just applied took away or
-- added.
-- Inputs: snap_changed (snapshot_apply.sql). Output: one count.
SELECT count(*) FROM snap_changed
