-- render_emptied.sql: usage reports of the recomputed tenants' open periods that were
-- published with rows and have none now (an object replaced, a line quarantined): they are
-- written again, empty, rather than left showing rows that are no longer billed.
-- Inputs: outputs, periods, dirty; $1 run_seq. Output: the output keys.
SELECT o.key FROM outputs o
JOIN periods p ON (p.status = 'open' OR p.finalized_run = $1)
    AND o.key IN ('usage/' || p.tenant_id || '/' || strftime(p.period_start, '%Y-%m-%d') || '_ai_credits_usage.csv',
                  'restricted/usage/' || p.tenant_id || '/' || strftime(p.period_start, '%Y-%m-%d') || '_ai_credits_usage.csv')
SEMI JOIN dirty d ON d.tenant_id = p.tenant_id
