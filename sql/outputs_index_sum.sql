-- outputs_index_sum.sql: the checksum of the output index last published.
-- Inputs: meta. Output: one value, or no row before the first index.
SELECT value FROM meta WHERE name = 'index_sha256';
