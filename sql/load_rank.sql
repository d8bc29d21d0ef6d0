-- load_rank.sql: find each parsed line of the batch its place in its identity (BILLING.md
-- sections 2 and 9). Identity is (tenant_id, event_id). The first line of an identity is the
-- line billed in a final period when there is one (a billed event stands), else the first by
-- object key, then line number; the others are exact duplicates (the first's content digest)
-- or conflicting duplicates. Only the identities the batch touches are looked at.
-- Inputs: stage_lines, stage_objects, gone_firsts (load_replace.sql, or empty), pending,
-- frozen_events, dup_lines. Outputs (temp): batch_ids, affected, members, ranked (every
-- member with is_first, first_digest, src new | pending | frozen | dup).
-- The members of every identity the batch touches: the batch's parsed lines, the current
-- first (open or final) and the earlier duplicates.
CREATE OR REPLACE TEMP TABLE batch_ids AS
SELECT s.line_id, s.tenant_id, s.event_id, s.digest, o.key, s.line_no
FROM stage_lines s JOIN stage_objects o ON o.obj_no = s.obj_no
WHERE s.parse_reason IS NULL;
CREATE OR REPLACE TEMP TABLE affected AS
SELECT DISTINCT tenant_id, event_id FROM batch_ids
UNION SELECT tenant_id, event_id FROM gone_firsts;
CREATE OR REPLACE TEMP TABLE members AS
SELECT line_id, tenant_id, event_id, digest, key, line_no, 0 AS final, 'new' AS src FROM batch_ids
UNION ALL
SELECT p.line_id, p.tenant_id, p.event_id, p.digest, p.key, p.line_no, 0, 'pending'
FROM pending p SEMI JOIN affected a ON a.tenant_id = p.tenant_id AND a.event_id = p.event_id
UNION ALL
SELECT f.line_id, f.tenant_id, f.event_id, f.digest, NULL, NULL, 1, 'frozen'
FROM frozen_events f SEMI JOIN affected a ON a.tenant_id = f.tenant_id AND a.event_id = f.event_id
UNION ALL
SELECT d.line_id, d.tenant_id, d.event_id, d.digest, d.key, d.line_no, 0, 'dup'
FROM dup_lines d SEMI JOIN affected a ON a.tenant_id = d.tenant_id AND a.event_id = d.event_id;

-- Rank each identity: a billed event stands, then key, then line (line_id breaks a tie
-- between two versions' lines, which cannot both be present).
CREATE OR REPLACE TEMP TABLE ranked AS
SELECT m.*,
    row_number() OVER w = 1 AS is_first,
    first_value(m.digest) OVER w AS first_digest,
    -- the line's status as it stood before this batch
    CASE m.src WHEN 'new' THEN NULL WHEN 'dup' THEN 'dup' ELSE 'first' END AS was
FROM members m
WINDOW w AS (PARTITION BY m.tenant_id, m.event_id ORDER BY m.final DESC, m.key, m.line_no, m.line_id);

