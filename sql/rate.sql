-- rate.sql: validate and rate every stored event for this run (BILLING.md sections 1, 2, 4).
-- Inputs: lines, frozen_events, cfg_tenants, cfg_rate_versions, cfg_rules, cfg_periods,
-- cfg_pools, cfg_members.
-- Outputs (temp tables; lid is the rowid of a line in lines):
--   dup_lines:   the parsed lines whose event_id occurs more than once, ranked ("first" is the
--                first object by key, then line order) and compared with the first (the
--                content hash, and the attributes with keys sorted and numbers by value);
--   checked:     one row per first line of an event_id, with its rejection reason, if any;
--   line_status: every line that is not an accepted event: quarantined (with reason and
--                field) or an exact duplicate;
--   fund_input:  one row per accepted event, rated, ready for funding; frozen events (of final
--                periods) carry their frozen split.
CREATE OR REPLACE TEMP TABLE dup_lines AS
WITH ids AS (
    SELECT event_id FROM lines WHERE parse_reason IS NULL GROUP BY event_id HAVING count(*) > 1
)
SELECT l.rowid AS lid, l.event_id,
    row_number() OVER w AS rn,
    first_value(l.content_hash) OVER w = l.content_hash
        AND first_value(canon_attrs(l.attributes)) OVER w IS NOT DISTINCT FROM canon_attrs(l.attributes) AS same_content
FROM lines l SEMI JOIN ids ON ids.event_id = l.event_id
WHERE l.parse_reason IS NULL
WINDOW w AS (PARTITION BY l.event_id ORDER BY l.key, l.line_no);

CREATE OR REPLACE TEMP TABLE checked AS
WITH firsts AS (
    SELECT l.rowid AS lid, l.event_id, l.tenant_id, l.user_id, l.event_type, l.occurred_at,
        l.event_value, l.preview, l.attributes
    FROM lines l
    ANTI JOIN (SELECT lid FROM dup_lines WHERE rn > 1) d ON d.lid = l.rowid
    WHERE l.parse_reason IS NULL
), c AS (
    SELECT e.*, t.tenant_no, t.rate_card, t.service_from, t.service_until,
        fe.event_id IS NOT NULL AS frozen
    FROM firsts e
    LEFT JOIN cfg_tenants t ON t.tenant_id = e.tenant_id
    LEFT JOIN frozen_events fe ON fe.event_id = e.event_id
), v AS (
    SELECT c.*, rv.effective_from AS rv_from, rv.version AS rate_card_version
    -- versions are few: a range join beats an ASOF join, which sorts every event
    FROM c LEFT JOIN cfg_rate_versions rv
        ON rv.card_id = c.rate_card AND c.occurred_at >= rv.effective_from AND c.occurred_at < rv.effective_until
), r AS (
    SELECT v.*, ru.kind, ru.credits, ru.ratio_attribute, ru.min_ratio, ru.per, ru.rounding,
        ru.allowance, ru.input_per_1k, ru.output_per_1k
    FROM v LEFT JOIN cfg_rules ru
        ON ru.card_id = v.rate_card AND ru.effective_from = v.rv_from AND ru.event_type = v.event_type
), a AS (
    SELECT r.* EXCLUDE (attributes),
        CASE WHEN r.kind = 'per_event_if_ratio' THEN to_dec(json_extract_string(r.attributes,
            '$."' || replace(r.ratio_attribute, '"', '\"') || '"')) END AS ratio_base,
        CASE WHEN r.kind = 'per_token' THEN to_dec(json_extract_string(r.attributes, '$.input_tokens')) END AS in_tok,
        CASE WHEN r.kind = 'per_token' THEN to_dec(json_extract_string(r.attributes, '$.output_tokens')) END AS out_tok
    FROM r
), b AS (
    -- rating (BILLING.md section 1) in exact DECIMAL and HUGEINT arithmetic; a preview is
    -- rated 0 without applying its rule
    SELECT a.*,
        CASE WHEN preview THEN 'preview'
             WHEN kind = 'free' THEN 'free_feature'
             WHEN kind = 'per_event_if_ratio'
                  AND NOT CAST(event_value AS DECIMAL(38,12)) > CAST(min_ratio AS DECIMAL(38,6)) * ratio_base THEN 'below_threshold'
        END AS rate_reason,
        -- units in millionths (BIGINT): blocks = ceil(value / per), or value / per half-up to 4
        -- places, at 4 places (e4)
        CASE WHEN NOT preview AND kind = 'per_unit' THEN
            CASE WHEN rounding = 'exact'
                 THEN (CAST(CAST(event_value AS DECIMAL(38,6)) * 1000000 AS HUGEINT) * 20000 + CAST(CAST(per AS DECIMAL(38,6)) * 1000000 AS BIGINT))
                      // (2 * CAST(CAST(per AS DECIMAL(38,6)) * 1000000 AS BIGINT))
                 ELSE CAST((CAST(CAST(event_value AS DECIMAL(38,6)) * 1000000 AS BIGINT) + CAST(CAST(per AS DECIMAL(38,6)) * 1000000 AS BIGINT) - 1)
                      // CAST(CAST(per AS DECIMAL(38,6)) * 1000000 AS BIGINT) AS HUGEINT) * 10000
            END END AS blocks_h
    FROM a
), c2 AS (
    SELECT b.*,
        TRY_CAST(coalesce(blocks_h, 0) AS BIGINT) AS blocks_e4,
        CAST(CASE WHEN kind = 'per_unit' THEN CAST(credits AS DECIMAL(38,4)) * 10000 ELSE 0 END AS BIGINT) AS per_block_e4,
        TRY_CAST(CASE WHEN rate_reason IS NOT NULL THEN 0
             WHEN kind IN ('per_event', 'per_event_if_ratio') THEN CAST(credits AS DECIMAL(38,4)) * 10000
             WHEN kind = 'per_unit' THEN (blocks_h * CAST(CAST(credits AS DECIMAL(38,4)) * 10000 AS HUGEINT) + 5000) // 10000
             WHEN kind = 'per_token' THEN round(CAST(in_tok AS DECIMAL(38,6)) * input_per_1k * 0.001
                                              + CAST(out_tok AS DECIMAL(38,6)) * output_per_1k * 0.001, 4) * 10000
             ELSE 0 END AS BIGINT) AS credits_e4
    FROM b
)
-- only what funding, statuses and counts need: a narrow table is cheap to write
SELECT lid, event_id, tenant_no, tenant_id, user_id, occurred_at, frozen, rate_card_version,
    kind, preview, allowance, rate_reason, blocks_e4, per_block_e4, credits_e4,
    CASE WHEN frozen THEN NULL
         WHEN tenant_no IS NULL THEN 'unknown_tenant'
         WHEN occurred_at < service_from OR occurred_at >= service_until THEN 'outside_service_period'
         WHEN rv_from IS NULL THEN 'no_rate_in_force'
         WHEN kind IS NULL THEN 'unknown_event_type'
         WHEN preview THEN NULL
         WHEN kind = 'per_event_if_ratio' AND (ratio_base IS NULL OR ratio_base <= 0) THEN 'missing_attribute'
         WHEN kind = 'per_token' AND (in_tok IS NULL OR out_tok IS NULL) THEN 'missing_attribute'
         WHEN credits_e4 IS NULL OR blocks_e4 IS NULL THEN 'malformed'
    END AS reject_reason,
    CASE WHEN frozen THEN NULL
         WHEN tenant_no IS NULL THEN 'tenant_id'
         WHEN occurred_at < service_from OR occurred_at >= service_until THEN 'occurred_at'
         WHEN rv_from IS NULL THEN 'occurred_at'
         WHEN kind IS NULL THEN 'event_type'
         WHEN preview THEN NULL
         WHEN kind = 'per_event_if_ratio' AND (ratio_base IS NULL OR ratio_base <= 0) THEN 'attributes.' || ratio_attribute
         WHEN kind = 'per_token' AND in_tok IS NULL THEN 'attributes.input_tokens'
         WHEN kind = 'per_token' AND out_tok IS NULL THEN 'attributes.output_tokens'
         WHEN credits_e4 IS NULL OR blocks_e4 IS NULL THEN 'event_value'
    END AS reject_field
FROM c2;

CREATE OR REPLACE TEMP TABLE line_status AS
SELECT rowid AS lid, 'quarantined' AS status, parse_reason AS reason, parse_field AS field
FROM lines WHERE parse_reason IS NOT NULL
UNION ALL
SELECT lid, CASE WHEN same_content THEN 'duplicate' ELSE 'quarantined' END,
    CASE WHEN same_content THEN NULL ELSE 'conflicting_duplicate' END,
    CASE WHEN same_content THEN NULL ELSE 'event_id' END
FROM dup_lines WHERE rn > 1
UNION ALL
SELECT lid, 'quarantined', reject_reason, reject_field FROM checked WHERE reject_reason IS NOT NULL;

CREATE OR REPLACE TEMP TABLE fund_input AS
WITH ok AS (
    SELECT c.*, p.period_idx AS natural_idx, p.was_final AS natural_final
    FROM checked c
    -- periods are few per tenant: a range join beats an ASOF join, which sorts every event
    JOIN cfg_periods p ON p.tenant_no = c.tenant_no AND c.occurred_at >= p.start_at AND c.occurred_at < p.end_at
    WHERE c.reject_reason IS NULL AND NOT c.frozen
), first_open AS (
    SELECT tenant_no, min(period_idx) AS open_idx FROM cfg_periods WHERE NOT was_final GROUP BY tenant_no
), rated AS (
    SELECT ok.*,
        CASE WHEN natural_final THEN fo.open_idx ELSE natural_idx END AS billed_idx,
        natural_final AS late
    FROM ok LEFT JOIN first_open fo ON fo.tenant_no = ok.tenant_no
)
SELECT
    rated.lid, rated.tenant_no, rated.tenant_id, rated.event_id, rated.occurred_at, rated.user_id,
    rated.billed_idx, rated.late, rated.rate_card_version, rated.rate_reason AS reason,
    coalesce(m.member_no, -1) AS member_no,
    -- a preview uses no allowance
    coalesce(CASE WHEN rated.kind = 'per_unit' AND NOT rated.preview THEN pl.pool_no END, -1) AS pool_no,
    CASE WHEN rated.kind = 'per_unit' AND NOT rated.preview THEN pl.pool END AS allowance_pool,
    rated.blocks_e4, rated.per_block_e4, rated.credits_e4,
    false AS frozen,
    0::BIGINT AS f_allowance_e4, 0::BIGINT AS f_plan_e4, 0::BIGINT AS f_bank_e4,
    0::BIGINT AS f_exceeding_e4, 0::BIGINT AS f_blocked_e4
FROM rated
LEFT JOIN cfg_members m ON m.tenant_id = rated.tenant_id AND m.user_id = rated.user_id
LEFT JOIN cfg_pools pl ON pl.tenant_id = rated.tenant_id AND pl.pool = rated.allowance
UNION ALL
SELECT c.lid, t.tenant_no, fe.tenant_id, fe.event_id, fe.occurred_at, fe.user_id,
    p.period_idx, fe.late, fe.rate_card_version, fe.reason,
    coalesce(m.member_no, -1), coalesce(pl.pool_no, -1), fe.allowance_pool,
    0, 0, fe.rated_e4, true,
    fe.allowance_e4, fe.plan_e4, fe.bank_e4, fe.exceeding_e4, fe.blocked_e4
FROM frozen_events fe
JOIN cfg_tenants t ON t.tenant_id = fe.tenant_id
JOIN cfg_periods p ON p.tenant_id = fe.tenant_id AND p.period_start = fe.billed_period_start
LEFT JOIN checked c ON c.event_id = fe.event_id AND c.frozen
LEFT JOIN cfg_members m ON m.tenant_id = fe.tenant_id AND m.user_id = fe.user_id
LEFT JOIN cfg_pools pl ON pl.tenant_id = fe.tenant_id AND pl.pool = fe.allowance_pool;
