-- compute_dirty.sql: the tenants this run recomputes, and the rest of their pending lines to
-- rate. A tenant is recomputed when it is in c0, or when a line validated in the first pass
-- became billable or stopped being billable (a quarantined line reconsidered, a new line).
-- Inputs: c0, checked (the first pass), pending, cfg_tenants.
-- Outputs (temp): dirty (tenant_no, tenant_id); rate_set replaced by the pending lines of
-- dirty tenants that the first pass did not rate.
CREATE OR REPLACE TEMP TABLE dirty AS
SELECT t.tenant_no, t.tenant_id
FROM cfg_tenants t
WHERE t.tenant_id IN (SELECT tenant_id FROM c0)
   OR t.tenant_id IN (
        SELECT ch.tenant_id FROM checked ch JOIN pending p ON p.line_id = ch.line_id
        WHERE (ch.reject_reason IS NULL) <> coalesce(p.validated_run IS NOT NULL AND p.reason IS NULL, false));
DELETE FROM rate_set;
INSERT INTO rate_set
SELECT p.line_id FROM pending p
SEMI JOIN dirty d ON d.tenant_id = p.tenant_id
ANTI JOIN checked c ON c.line_id = p.line_id;
