-- documents_drafts_published.sql: the draft invoices published for the recomputed tenants
-- (issue 11), so that those no longer drafted (the period final, its real invoice issued;
-- or nothing to invoice any more) are removed.
-- Inputs: outputs, dirty. Outputs (rows): key (invoices/drafts/{tenant}_{period_start}.csv
-- or .xlsx). Sorted by key.
SELECT o.key
FROM outputs o
JOIN dirty d ON regexp_extract(o.key, '^invoices/drafts/(.+)_[0-9]{4}-[0-9]{2}-[0-9]{2}\.(csv|xlsx)$', 1) = d.tenant_id
WHERE o.key LIKE 'invoices/drafts/%' AND o.sha256 <> ''
ORDER BY o.key
