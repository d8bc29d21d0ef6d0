-- documents_current.sql: the table of the current period of each workbook to render.
-- Inputs: none. Outputs (temp): doc_current, empty (pipeline/documents fills it).
CREATE OR REPLACE TEMP TABLE doc_current (tenant_id VARCHAR, period_start DATE);
