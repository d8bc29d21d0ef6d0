-- close_rated.sql: ledger/rated_events.parquet of a sharded fleet, from the shards' slices
-- (each its tenants' rows of the file, rendered by render_fleet.sql): the same rows in the
-- same order, so the same bytes as a single machine's.
-- Inputs: close_rated_slices (a view over the slices); {{file}}. Outputs: {{file}}.
COPY (SELECT * FROM close_rated_slices ORDER BY tenant_id, billed_period_start, occurred_at, event_id)
TO '{{file}}' (FORMAT parquet, COMPRESSION snappy);
