-- partition_count.sql: how many of a batch's lines each shard receives.
-- Inputs: part_lines, part_shards. Output: shard, lines; shards with no line are absent.
SELECT s.shard, count(*) FROM part_lines l
JOIN part_shards s ON s.tenant_id = coalesce(l.tenant_id, '')
GROUP BY s.shard ORDER BY s.shard
