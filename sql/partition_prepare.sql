-- partition_prepare.sql: the per-batch tables of the partition step of a sharded round
-- (pipeline/partition), on a scratch in-memory database.
-- Inputs: none. Outputs (temp): part_shards (tenant_id as the shard sees it: '' for a line
-- whose tenant could not be read; shard: hash(tenant_id) mod N, computed in Go, the
-- product's own function, pipeline/shard), empty.
CREATE OR REPLACE TEMP TABLE part_shards (
    tenant_id VARCHAR,
    shard     INTEGER
);
