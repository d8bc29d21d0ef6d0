-- load_prepare.sql: the per-run staging tables of loading (pipeline/load).
-- Inputs: none. Outputs (temp): stage_lines (parsed lines of a batch, as pipeline/parse's
-- Arrow schema: the columns of lines before status), stage_objects (the batch's objects),
-- stage_users (the rows of the batch's user directories),
-- changed_lines (line ids whose row or status changed in this run: the analysts' snapshot
-- applies them) and removed_lines (lines of replaced objects that this run deleted).
-- stage_lines, when no object of a batch has lines (pipeline/load makes it a view over the
-- batch's staged Parquet files otherwise)
CREATE OR REPLACE TEMP VIEW stage_lines AS
SELECT * EXCLUDE (status, reason, field) FROM lines LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_objects (
    obj_no  INTEGER,
    key     VARCHAR,
    etag    VARCHAR,
    size    BIGINT,
    sha256  VARCHAR,
    format  VARCHAR,
    status  VARCHAR,   -- read | unreadable | skipped
    reason  VARCHAR,
    detail  VARCHAR,
    lines   BIGINT
);
CREATE OR REPLACE TEMP TABLE stage_users AS SELECT * FROM user_directory LIMIT 0;
CREATE OR REPLACE TEMP TABLE changed_lines (line_id BIGINT);
CREATE OR REPLACE TEMP TABLE removed_lines (line_id BIGINT);
CREATE OR REPLACE TEMP TABLE gone_firsts (line_id BIGINT, tenant_id VARCHAR, event_id VARCHAR, accepted BOOLEAN);
CREATE OR REPLACE TEMP TABLE replaced (obj_no INTEGER);
