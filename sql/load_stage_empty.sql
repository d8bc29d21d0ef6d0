-- load_stage_empty.sql: stage_lines for a batch without lines (every object skipped,
-- unreadable or a user directory).
-- Inputs: lines. Outputs: the temp view stage_lines, empty.
CREATE OR REPLACE TEMP VIEW stage_lines AS
SELECT * EXCLUDE (status, reason, field) FROM lines LIMIT 0;
