-- snapshot_columns.sql: the tables of the snapshot database whose columns (names, types,
-- order) differ from the staged rows of a delta: the warehouse's columns changed (a new
-- version of the software), and the snapshot is rebuilt rather than updated.
-- Inputs: data.* and the staged files under {{stage}} (snapshot_stage.sql).
-- Outputs (temp): snap_columns_differ (tbl): one row per table that differs.
CREATE OR REPLACE TEMP TABLE snap_columns_differ AS
SELECT tbl FROM (
    SELECT 'events' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.events)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/events_settled.parquet'))) AS staged
    UNION ALL
    SELECT 'events_open' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.events_open)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/events_open.parquet'))) AS staged
    UNION ALL
    SELECT 'rated_events' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.rated_events)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/rated_final.parquet'))) AS staged
    UNION ALL
    SELECT 'rated_events_open' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.rated_events_open)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/rated_open.parquet'))) AS staged
    UNION ALL
    SELECT 'period_usage' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.period_usage)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/period_usage.parquet'))) AS staged
    UNION ALL
    SELECT 'invoices' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.invoices)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/invoices.parquet'))) AS staged
    UNION ALL
    SELECT 'quarantine' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.quarantine)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/quarantine.parquet'))) AS staged
    UNION ALL
    SELECT 'tenants' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.tenants)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/tenants.parquet'))) AS staged
    UNION ALL
    SELECT 'deposits' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.deposits)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/deposits.parquet'))) AS staged
    UNION ALL
    SELECT 'member_caps' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.member_caps)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/member_caps.parquet'))) AS staged
    UNION ALL
    SELECT 'notifications' AS tbl,
        (SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE data.notifications)) AS snap,
        (SELECT string_agg(column_name || ' ' || column_type, ', ')
         FROM (DESCRIBE SELECT * FROM read_parquet('{{stage}}/notifications.parquet'))) AS staged
)
WHERE snap IS DISTINCT FROM staged;
