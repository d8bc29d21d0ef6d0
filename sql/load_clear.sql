-- load_clear.sql: empty the staging tables before a batch of objects is loaded.
-- Inputs: none. Outputs: stage_files, stage_lines and stage_objects emptied.
DELETE FROM stage_files;
DELETE FROM stage_lines;
DELETE FROM stage_objects;
