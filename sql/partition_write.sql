-- partition_write.sql: one shard's lines of a batch, exactly as parsed (every column of
-- parse.Schema, in its order: the shard's load reads them as its staged lines), by line id.
-- Inputs: part_lines, part_shards; {{shard}} the shard's index, {{file}} the Parquet file.
-- Outputs: {{file}}.
COPY (
    SELECT l.* FROM part_lines l
    JOIN part_shards s ON s.tenant_id = coalesce(l.tenant_id, '')
    WHERE s.shard = CAST('{{shard}}' AS INTEGER)
    ORDER BY l.line_id
) TO '{{file}}' (FORMAT parquet, COMPRESSION zstd);
