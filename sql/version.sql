-- version.sql: the DuckDB library's version, for `creditmeter --version`.
-- Inputs: none. Output: one row: the version (e.g. v1.4.1).
SELECT version()
