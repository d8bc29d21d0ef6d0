-- partition_tenants.sql: the tenant ids of a batch's parsed lines, for Go to assign each to
-- its shard. A line whose tenant could not be read counts as the tenant '' (never dropped).
-- Inputs: part_lines (a view over the batch's staged Parquet files, parse.Schema).
-- Output: tenant_id, one row per distinct value.
SELECT DISTINCT coalesce(tenant_id, '') FROM part_lines ORDER BY 1
