-- documents_members.sql: the use of each capped member of the workbooks to render, for their
-- Members sheet (pipeline/documents; BILLING.md section 3): the credits funded for the member
-- over the contract (plan + bank + exceeding: what the cap counts), the final periods'
-- closing balance plus this run's open periods, and the credits blocked for the member in
-- the workbook's current period.
-- Inputs: doc_current, cfg_members, closing_users, rated_events, period_calc, usage_rows,
-- frozen_events; $1 run_seq.
-- Outputs (rows): tenant_id, user_id, funded_credits, blocked_credits (exact text); sorted by
-- tenant_id, user_id.
WITH m AS (
    SELECT m.tenant_id, m.user_id FROM cfg_members m SEMI JOIN doc_current c ON c.tenant_id = m.tenant_id
), funded AS (
    SELECT cu.tenant_id, cu.user_id, CAST(cu.funded_e4 AS HUGEINT) AS e4
    FROM closing_users cu SEMI JOIN m ON m.tenant_id = cu.tenant_id AND m.user_id = cu.user_id
    UNION ALL
    -- the periods this run finalizes are already in closing_users
    SELECT re.tenant_id, re.user_id, re.plan_e4 + re.bank_e4 + re.exceeding_e4
    FROM rated_events re
    JOIN period_calc pc ON pc.tenant_no = re.tenant_no AND pc.period_idx = re.billed_idx AND NOT pc.finalizing
    SEMI JOIN m ON m.tenant_id = re.tenant_id AND m.user_id = re.user_id
), blocked AS (
    SELECT u.tenant_id, u.user_id, u.blocked_e4 AS e4
    FROM usage_rows u
    SEMI JOIN doc_current c ON c.tenant_id = u.tenant_id AND c.period_start = u.billed_period_start
    SEMI JOIN m ON m.tenant_id = u.tenant_id AND m.user_id = u.user_id
    UNION ALL
    SELECT fe.tenant_id, fe.user_id, fe.blocked_e4
    FROM frozen_events fe
    SEMI JOIN doc_current c ON c.tenant_id = fe.tenant_id AND c.period_start = fe.billed_period_start
    SEMI JOIN m ON m.tenant_id = fe.tenant_id AND m.user_id = fe.user_id
    WHERE fe.finalized_run < $1
), f AS (
    SELECT tenant_id, user_id, sum(e4) AS e4 FROM funded GROUP BY tenant_id, user_id
), b AS (
    SELECT tenant_id, user_id, sum(e4) AS e4 FROM blocked GROUP BY tenant_id, user_id
)
SELECT m.tenant_id, m.user_id, CAST(e4sum(coalesce(f.e4, 0)) AS VARCHAR) AS funded_credits,
    CAST(e4sum(coalesce(b.e4, 0)) AS VARCHAR) AS blocked_credits
FROM m
LEFT JOIN f ON f.tenant_id = m.tenant_id AND f.user_id = m.user_id
LEFT JOIN b ON b.tenant_id = m.tenant_id AND b.user_id = m.user_id
ORDER BY m.tenant_id, m.user_id
