-- diff_causes.sql: why the runs in (from, to] recomputed each tenant, for `creditmeter
-- diff` (finalize.sql records them: new_events, loading, late_events, reconsidered,
-- finalized, configuration, period_started, with counts).
-- Inputs: run_causes, runs; $1 the first run's number, $2 the second's, $3 a tenant_id or ''
-- for every tenant.
-- Output: run_seq, run_id, tenant_id, cause, n; by run, tenant and the order of the causes
-- above.
SELECT c.run_seq, r.run_id, c.tenant_id, c.cause, c.n
FROM run_causes c JOIN runs r ON r.run_seq = c.run_seq
WHERE c.run_seq > $1::INTEGER AND c.run_seq <= $2::INTEGER
  AND ($3::VARCHAR = '' OR c.tenant_id = $3::VARCHAR)
ORDER BY c.run_seq, c.tenant_id,
    list_position(['new_events', 'loading', 'late_events', 'reconsidered', 'finalized',
                   'configuration', 'period_started'], c.cause) NULLS LAST, c.cause
