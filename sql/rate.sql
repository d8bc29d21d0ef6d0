-- rate.sql: validate and rate every stored event for this run (BILLING.md sections 1, 2, 4).
-- Inputs: lines, frozen_events, cfg_tenants, cfg_rate_versions, cfg_rules, cfg_periods,
-- cfg_pools, cfg_members.
-- Outputs (temp tables):
--   line_status: one row per line: status accepted | duplicate | quarantined, reason, field.
--   fund_input:  one row per accepted event, rated, in the funding order's columns; frozen
--                events (of final periods) carry their frozen split.
CREATE OR REPLACE TEMP TABLE dedup AS
SELECT key, line_no,
    row_number() OVER w AS rn,
    first_value(content_hash) OVER w AS first_hash,
    content_hash
FROM lines
WHERE parse_reason IS NULL
WINDOW w AS (PARTITION BY event_id ORDER BY key, line_no);

CREATE OR REPLACE TEMP TABLE checked AS
WITH firsts AS (
    SELECT l.* EXCLUDE (raw)
    FROM lines l JOIN dedup d ON d.key = l.key AND d.line_no = l.line_no
    WHERE d.rn = 1
), c AS (
    SELECT e.*, t.tenant_no, t.rate_card, t.service_from, t.service_until,
        fe.event_id IS NOT NULL AS frozen
    FROM firsts e
    LEFT JOIN cfg_tenants t ON t.tenant_id = e.tenant_id
    LEFT JOIN frozen_events fe ON fe.event_id = e.event_id
), v AS (
    SELECT c.*, rv.effective_from AS rv_from, rv.version AS rate_card_version
    FROM c ASOF LEFT JOIN cfg_rate_versions rv
        ON rv.card_id = c.rate_card AND c.occurred_at >= rv.effective_from
), r AS (
    SELECT v.*, ru.kind, ru.credits, ru.ratio_attribute, ru.min_ratio, ru.per, ru.rounding,
        ru.allowance, ru.input_per_1k, ru.output_per_1k
    FROM v LEFT JOIN cfg_rules ru
        ON ru.card_id = v.rate_card AND ru.effective_from = v.rv_from AND ru.event_type = v.event_type
), a AS (
    SELECT r.*,
        CASE WHEN r.kind = 'per_event_if_ratio' THEN TRY_CAST(json_extract_string(r.attributes,
            '$."' || replace(r.ratio_attribute, '"', '\"') || '"') AS DECIMAL(38,10)) END AS ratio_base,
        CASE WHEN r.kind = 'per_token' THEN TRY_CAST(json_extract_string(r.attributes, '$.input_tokens') AS DECIMAL(38,10)) END AS in_tok,
        CASE WHEN r.kind = 'per_token' THEN TRY_CAST(json_extract_string(r.attributes, '$.output_tokens') AS DECIMAL(38,10)) END AS out_tok
    FROM r
)
SELECT a.*,
    CASE WHEN frozen THEN NULL
         WHEN tenant_no IS NULL THEN 'unknown_tenant'
         WHEN occurred_at < service_from OR occurred_at >= service_until THEN 'outside_service_period'
         WHEN rv_from IS NULL THEN 'no_rate_in_force'
         WHEN kind IS NULL THEN 'unknown_event_type'
         WHEN preview THEN NULL
         WHEN kind = 'per_event_if_ratio' AND (ratio_base IS NULL OR ratio_base <= 0) THEN 'missing_attribute'
         WHEN kind = 'per_token' AND (in_tok IS NULL OR out_tok IS NULL) THEN 'missing_attribute'
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
    END AS reject_field
FROM a;

CREATE OR REPLACE TEMP TABLE line_status AS
SELECT l.key, l.line_no, l.event_id,
    CASE WHEN l.parse_reason IS NOT NULL THEN 'quarantined'
         WHEN d.rn > 1 AND d.content_hash = d.first_hash THEN 'duplicate'
         WHEN d.rn > 1 THEN 'quarantined'
         WHEN c.reject_reason IS NOT NULL THEN 'quarantined'
         ELSE 'accepted' END AS status,
    CASE WHEN l.parse_reason IS NOT NULL THEN l.parse_reason
         WHEN d.rn > 1 AND d.content_hash = d.first_hash THEN NULL
         WHEN d.rn > 1 THEN 'conflicting_duplicate'
         ELSE c.reject_reason END AS reason,
    CASE WHEN l.parse_reason IS NOT NULL THEN l.parse_field
         WHEN d.rn > 1 AND d.content_hash <> d.first_hash THEN 'event_id'
         ELSE c.reject_field END AS field
FROM lines l
LEFT JOIN dedup d ON d.key = l.key AND d.line_no = l.line_no
LEFT JOIN checked c ON c.key = l.key AND c.line_no = l.line_no AND d.rn = 1;

CREATE OR REPLACE TEMP TABLE fund_input AS
WITH ok AS (
    SELECT c.*, p.period_idx AS natural_idx, p.was_final AS natural_final
    FROM checked c
    ASOF JOIN cfg_periods p ON p.tenant_no = c.tenant_no AND c.occurred_at >= p.start_at
    WHERE c.reject_reason IS NULL AND NOT c.frozen
), first_open AS (
    SELECT tenant_no, min(period_idx) AS open_idx FROM cfg_periods WHERE NOT was_final GROUP BY tenant_no
), rated AS (
    SELECT ok.*,
        CASE WHEN natural_final THEN fo.open_idx ELSE natural_idx END AS billed_idx,
        natural_final AS late,
        CASE WHEN preview THEN 'preview'
             WHEN kind = 'free' THEN 'free_feature'
             WHEN kind = 'per_event_if_ratio' AND NOT event_value > min_ratio * ratio_base THEN 'below_threshold'
        END AS rate_reason,
        CASE WHEN NOT preview AND kind = 'per_unit' THEN
            CASE WHEN rounding = 'exact'
                 THEN (CAST(event_value * 10000000000 AS HUGEINT) * 20000 + CAST(per * 10000000000 AS HUGEINT))
                      // (2 * CAST(per * 10000000000 AS HUGEINT))
                 ELSE ((CAST(event_value * 10000000000 AS HUGEINT) + CAST(per * 10000000000 AS HUGEINT) - 1)
                      // CAST(per * 10000000000 AS HUGEINT)) * 10000
            END END AS blocks_e4
    FROM ok LEFT JOIN first_open fo ON fo.tenant_no = ok.tenant_no
)
SELECT
    rated.tenant_no, rated.tenant_id, rated.event_id, rated.occurred_at, rated.user_id,
    rated.billed_idx, rated.late, rated.rate_card_version, rated.rate_reason AS reason,
    rated.kind, rated.preview,
    coalesce(m.member_no, -1) AS member_no,
    coalesce(pl.pool_no, -1) AS pool_no,
    pl.pool AS allowance_pool,
    CAST(coalesce(rated.blocks_e4, 0) AS BIGINT) AS blocks_e4,
    CAST(CASE WHEN rated.kind = 'per_unit' THEN rated.credits * 10000 ELSE 0 END AS BIGINT) AS per_block_e4,
    CAST(CASE WHEN rated.rate_reason IS NOT NULL THEN 0
         WHEN rated.kind IN ('per_event', 'per_event_if_ratio') THEN rated.credits * 10000
         WHEN rated.kind = 'per_unit' THEN (rated.blocks_e4 * CAST(rated.credits * 10000 AS HUGEINT) + 5000) // 10000
         WHEN rated.kind = 'per_token' THEN round(rated.in_tok * rated.input_per_1k * 0.001
                                              + rated.out_tok * rated.output_per_1k * 0.001, 4) * 10000
         ELSE 0 END AS BIGINT) AS credits_e4,
    false AS frozen,
    0::BIGINT AS f_allowance_e4, 0::BIGINT AS f_plan_e4, 0::BIGINT AS f_bank_e4,
    0::BIGINT AS f_exceeding_e4, 0::BIGINT AS f_blocked_e4
FROM rated
LEFT JOIN cfg_members m ON m.tenant_id = rated.tenant_id AND m.user_id = rated.user_id
LEFT JOIN cfg_pools pl ON pl.tenant_id = rated.tenant_id AND pl.pool = rated.allowance
    AND rated.kind = 'per_unit' AND NOT rated.preview
UNION ALL
SELECT t.tenant_no, fe.tenant_id, fe.event_id, fe.occurred_at, fe.user_id,
    p.period_idx, fe.late, fe.rate_card_version, fe.reason, NULL, NULL,
    coalesce(m.member_no, -1), coalesce(pl.pool_no, -1), fe.allowance_pool,
    0, 0, fe.rated_e4, true,
    fe.allowance_e4, fe.plan_e4, fe.bank_e4, fe.exceeding_e4, fe.blocked_e4
FROM frozen_events fe
JOIN cfg_tenants t ON t.tenant_id = fe.tenant_id
JOIN cfg_periods p ON p.tenant_id = fe.tenant_id AND p.period_start = fe.billed_period_start
LEFT JOIN cfg_members m ON m.tenant_id = fe.tenant_id AND m.user_id = fe.user_id
LEFT JOIN cfg_pools pl ON pl.tenant_id = fe.tenant_id AND pl.pool = fe.allowance_pool;
