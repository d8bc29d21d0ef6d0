-- snapshot_query_guard.sql: lock down the connection of `creditmeter query` (analysts'
-- queries on the snapshot or the warehouse, opened read-only) so that no statement writes
-- anywhere: no files (COPY TO, EXPORT), no other databases (ATTACH), no settings changed back.
-- Inputs: none. Outputs: none (database settings).
SET enable_external_access = false;
SET lock_configuration = true;
