-- outputs_index_record.sql: remember the checksum of the output index just published.
-- Inputs: $1 sha256. Output: meta.
INSERT OR REPLACE INTO meta VALUES ('index_sha256', $1);
