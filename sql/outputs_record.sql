-- outputs_record.sql: record the outputs a run rendered and has yet to publish, and the
-- outputs whose published bytes became final (bytes -1 in outputs_new: only the flag).
-- A removal is recorded as a row with sha256 '' (bytes 0), deleted from the store by
-- the upload and then from the index (outputs_published.sql).
-- Inputs: outputs_new (outputs_stage.sql). Output: outputs upserted.
UPDATE outputs SET final = true
WHERE key IN (SELECT key FROM outputs_new WHERE bytes = -1);
INSERT OR REPLACE INTO outputs
SELECT key, sha256, bytes, run_seq, false, final FROM outputs_new WHERE bytes >= 0;
