-- documents_stage.sql: a staging table for the documents a run renders once.
-- Inputs: none. Outputs (temp): documents_new, empty.
CREATE OR REPLACE TEMP TABLE documents_new (key VARCHAR, sha256 VARCHAR, content BLOB, run_seq INTEGER);
