-- outputs_final.sql: an output whose bytes are already published becomes final.
-- Inputs: $1 key. Output: outputs updated.
UPDATE outputs SET final = true WHERE key = $1;
