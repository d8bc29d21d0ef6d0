-- snapshot_sources_found.sql: which of the warehouse tables the snapshot reads besides its
-- ledgers exist (snapshot_sources.sql stands in for the others).
-- Inputs: the catalog. Output: table_name, one row per table found.
SELECT table_name FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
  AND table_name IN ('snapshot_tenants', 'snapshot_deposits', 'snapshot_member_caps', 'notifications')
ORDER BY table_name
