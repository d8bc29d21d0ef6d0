-- outputs_published.sql: outputs now in the store.
-- Inputs: outputs_new (key, run_seq: the rendering run; a newer render is not marked).
-- Output: outputs updated.
UPDATE outputs SET published = true
FROM outputs_new n WHERE outputs.key = n.key AND outputs.run_seq = n.run_seq;
