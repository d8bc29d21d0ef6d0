-- snapshot_parquet_invoices.sql: one tenant's issued invoices as Parquet, for other engines
-- (analytics/parquet/invoices/tenant_id={id}/part0.parquet, Hive-partitioned: the tenant is
-- in the path, not in the file). Written only when the tenant's rows changed; one thread and
-- a total order, so the same rows give the same bytes.
-- Inputs: the snapshot's view invoices; {{tenant}} the tenant, {{file}} the file.
-- Outputs: {{file}} (no rows when the tenant has none left).
COPY (SELECT * EXCLUDE (tenant_id) FROM invoices WHERE tenant_id = '{{tenant}}'
      ORDER BY year, seq)
TO '{{file}}' (FORMAT parquet, COMPRESSION zstd);
