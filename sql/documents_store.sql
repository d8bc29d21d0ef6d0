-- documents_store.sql: keep the documents rendered once (an issued invoice's XLSX and CSV).
-- Inputs: documents_new (documents_stage.sql). Output: rows of documents; a key already there
-- is never replaced.
INSERT INTO documents SELECT * FROM documents_new ON CONFLICT DO NOTHING;
