-- outputs_record.sql: record an output this run rendered and has yet to publish.
-- Inputs: $1 key, $2 sha256, $3 bytes, $4 run_seq, $5 final. Output: outputs upserted.
INSERT OR REPLACE INTO outputs VALUES ($1, $2, $3, $4, false, $5);
