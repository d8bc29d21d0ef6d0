-- outputs_published.sql: an output is in the store.
-- Inputs: $1 key, $2 run_seq (the rendering run: a newer render is not marked). Output:
-- outputs updated.
UPDATE outputs SET published = true WHERE key = $1 AND run_seq = $2;
