-- snapshot_stage_run.sql: stage what a run's delta needs beside its rows (snapshot_stage.sql):
-- the configured tenants, so that the snapshot drops the open periods of the others.
-- Inputs: snap_configured (snapshot_scope_run.sql); {{stage}} the staging directory.
-- Outputs: {{stage}}/configured.parquet.
COPY snap_configured TO '{{stage}}/configured.parquet' (FORMAT parquet);
