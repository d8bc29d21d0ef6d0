-- outputs_published.sql: outputs now in the store, and removals done.
-- Inputs: outputs_new (key, run_seq: the rendering run; a newer render is not marked).
-- Output: outputs updated; a removal (sha256 '') once done leaves the index.
UPDATE outputs SET published = true
FROM outputs_new n WHERE outputs.key = n.key AND outputs.run_seq = n.run_seq;
DELETE FROM outputs WHERE published AND sha256 = '';
