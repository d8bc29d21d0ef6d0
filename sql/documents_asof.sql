-- documents_asof.sql: the "data as of" instant of each workbook to render (pipeline/documents):
-- the latest occurred_at among the tenant's events counted, taken from the data rather than
-- the run's clock, so that a workbook depends only on what was ingested (BILLING.md section
-- 5: a tenant's workbook is rendered again only when its numbers or --now's period change).
-- The open periods' events (this run's rated_events) when there are any; else the frozen
-- events of the tenant's final periods.
-- Inputs: doc_current, rated_events, frozen_events. Outputs (rows): tenant_id, as_of (RFC 3339
-- UTC); no row for a tenant without events.
WITH open_ev AS (
    SELECT re.tenant_id, max(re.occurred_at) AS latest
    FROM rated_events re SEMI JOIN doc_current c ON c.tenant_id = re.tenant_id
    GROUP BY re.tenant_id
)
SELECT tenant_id, rfc3339(latest) AS as_of FROM open_ev
UNION ALL
SELECT fe.tenant_id, rfc3339(max(fe.occurred_at))
FROM frozen_events fe
SEMI JOIN doc_current c ON c.tenant_id = fe.tenant_id
ANTI JOIN open_ev o ON o.tenant_id = fe.tenant_id
GROUP BY fe.tenant_id
