-- load_earlier.sql: how many earlier lines (open firsts and duplicates) share an identity
-- with the batch; load_moved.sql runs only when there are some.
-- Inputs: ranked. Output: one count.
SELECT count(*) FROM ranked WHERE src IN ('pending', 'dup');
