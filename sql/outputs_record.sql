-- outputs_record.sql: record the outputs a run rendered and has yet to publish, and the
-- outputs whose published bytes became final (bytes -1 in outputs_new: only the flag).
-- Inputs: outputs_new (outputs_stage.sql). Output: outputs upserted.
UPDATE outputs SET final = true
WHERE key IN (SELECT key FROM outputs_new WHERE bytes = -1);
INSERT OR REPLACE INTO outputs
SELECT key, sha256, bytes, run_seq, false, final FROM outputs_new WHERE bytes >= 0;
