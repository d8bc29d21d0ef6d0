-- close_snapshot_invoices.sql: the fleet's invoices with the columns of the analysts'
-- snapshot (snapshot_rows.sql, snap_invoices), for the snapshot the close step of a sharded
-- round merges from the shards' (pipeline/snapshot.Merge).
-- Inputs: invoices; {{file}} the Parquet file. Outputs: {{file}}, by year and seq.
COPY (
    SELECT invoice_number, year, seq, tenant_id, period_start, period_end, currency,
        exceeding_credits, price_per_credit, amount, issued_on, due_date, customer_name, tax_label,
        tax_rate, tax_amount, total_amount
    FROM invoices ORDER BY year, seq
) TO '{{file}}' (FORMAT parquet, COMPRESSION snappy);
