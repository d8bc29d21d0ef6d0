-- schema_version.sql: the layout version of a warehouse that has the meta table.
-- Inputs: meta. Output: the version (no row when none is recorded).
SELECT value FROM meta WHERE name = 'schema_version';
