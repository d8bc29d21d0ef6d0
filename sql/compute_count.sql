-- compute_count.sql: how many tenants this run recomputes.
-- Inputs: dirty. Output: one count.
SELECT count(*) FROM dirty;
