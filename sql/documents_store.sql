-- documents_store.sql: keep a document rendered once (an issued invoice's XLSX or CSV).
-- Inputs: $1 key, $2 sha256, $3 content, $4 run_seq. Output: a row of documents; a key
-- already there is never replaced.
INSERT INTO documents VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING;
