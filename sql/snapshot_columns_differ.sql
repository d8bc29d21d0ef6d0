-- snapshot_columns_differ.sql: the tables whose columns changed (snapshot_columns.sql), as
-- one text for the log.
-- Inputs: snap_columns_differ. Output: the tables, comma-separated, or NULL for none.
SELECT string_agg(tbl, ', ' ORDER BY tbl) FROM snap_columns_differ
