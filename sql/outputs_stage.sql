-- outputs_stage.sql: a staging table for changes to the output index, applied by
-- outputs_record.sql or outputs_published.sql in one statement.
-- Inputs: none. Outputs (temp): outputs_new, empty.
CREATE OR REPLACE TEMP TABLE outputs_new (
    key       VARCHAR,
    sha256    VARCHAR,
    bytes     BIGINT,
    run_seq   INTEGER,
    published BOOLEAN,
    final     BOOLEAN
);
