-- rate.sql: validate and rate the pending lines listed in rate_set (BILLING.md sections 1,
-- 2 and 4), after parsing and duplicates (done when the line was loaded).
-- Inputs: pending, rate_set, cfg_tenants, cfg_rate_versions, cfg_rules, cfg_periods,
-- cfg_period_months,
-- cfg_pools.
-- Outputs: rows appended to checked, one per line of rate_set: the rating, the periods and
-- the reason it cannot be billed (NULL when accepted), checked in the order of BILLING.md
-- section 9: unknown_tenant, outside_service_period, no_rate_in_force, unknown_event_type,
-- missing_attribute, malformed (credits beyond the fixed point), no_open_period.
INSERT INTO checked
WITH c AS (
    SELECT p.line_id, p.tenant_id, p.event_id, p.user_id, p.event_type, p.occurred_at,
        p.event_value, p.preview, p.attributes,
        t.tenant_no, t.rate_card, t.service_from, t.service_until
    FROM pending p
    SEMI JOIN rate_set s ON s.line_id = p.line_id
    LEFT JOIN cfg_tenants t ON t.tenant_id = p.tenant_id
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
    -- attribute numbers are read from their text (canonical JSON of pipeline/parse); the
    -- ratio attribute's name comes from the configuration and is looked up as a JSON
    -- Pointer (RFC 6901: ~ and / escaped), so no name can change the path
    SELECT r.* EXCLUDE (attributes),
        CASE WHEN r.kind = 'per_event_if_ratio' THEN to_dec(json_extract_string(r.attributes,
            '/' || replace(replace(r.ratio_attribute, '~', '~0'), '/', '~1'))) END AS ratio_base,
        CASE WHEN r.kind = 'per_token' THEN to_dec(json_extract_string(r.attributes, '/input_tokens')) END AS in_tok,
        CASE WHEN r.kind = 'per_token' THEN to_dec(json_extract_string(r.attributes, '/output_tokens')) END AS out_tok
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
        -- units in millionths: blocks = ceil(value / per), or value / per half-up to 4
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
), rej AS (
    SELECT c2.*,
        CASE WHEN tenant_no IS NULL THEN 'unknown_tenant'
             WHEN occurred_at < service_from OR occurred_at >= service_until THEN 'outside_service_period'
             WHEN rv_from IS NULL THEN 'no_rate_in_force'
             WHEN kind IS NULL THEN 'unknown_event_type'
             WHEN preview THEN NULL
             WHEN kind = 'per_event_if_ratio' AND (ratio_base IS NULL OR ratio_base <= 0) THEN 'missing_attribute'
             WHEN kind = 'per_token' AND (in_tok IS NULL OR out_tok IS NULL) THEN 'missing_attribute'
             -- one event below 10^14 credits: beyond it no quantity is real, and sums stay exact
             WHEN credits_e4 IS NULL OR blocks_e4 IS NULL OR credits_e4 >= 1000000000000000000 THEN 'malformed'
        END AS reason0,
        CASE WHEN tenant_no IS NULL THEN 'tenant_id'
             WHEN occurred_at < service_from OR occurred_at >= service_until THEN 'occurred_at'
             WHEN rv_from IS NULL THEN 'occurred_at'
             WHEN kind IS NULL THEN 'event_type'
             WHEN preview THEN NULL
             WHEN kind = 'per_event_if_ratio' AND (ratio_base IS NULL OR ratio_base <= 0) THEN 'attributes.' || ratio_attribute
             WHEN kind = 'per_token' AND in_tok IS NULL THEN 'attributes.input_tokens'
             WHEN kind = 'per_token' AND out_tok IS NULL THEN 'attributes.output_tokens'
             WHEN kind = 'per_token' AND (credits_e4 IS NULL OR credits_e4 >= 1000000000000000000) THEN 'attributes.input_tokens'
             WHEN credits_e4 IS NULL OR blocks_e4 IS NULL OR credits_e4 >= 1000000000000000000 THEN 'event_value'
        END AS field0
    FROM c2
), nat AS (
    -- the period containing the event, among the two or three that overlap its UTC month
    SELECT rej.line_id, p.period_idx, p.was_final
    FROM rej JOIN cfg_period_months p
        ON p.tenant_no = rej.tenant_no AND p.month = date_trunc('month', rej.occurred_at)
       AND rej.occurred_at >= p.start_at AND rej.occurred_at < p.end_at
    WHERE rej.reason0 IS NULL
), first_open AS (
    SELECT tenant_no, min(period_idx) AS open_idx FROM cfg_periods WHERE NOT was_final GROUP BY tenant_no
)
SELECT rej.line_id, rej.tenant_no, rej.tenant_id, rej.event_id, rej.user_id, rej.event_type,
    rej.occurred_at, rej.rate_card_version, rej.kind, rej.preview,
    CASE WHEN rej.kind = 'per_unit' AND NOT rej.preview THEN pl.pool END AS allowance_pool,
    rej.rate_reason, rej.blocks_e4, rej.per_block_e4, rej.credits_e4,
    nat.period_idx AS natural_idx,
    CASE WHEN nat.was_final THEN fo.open_idx ELSE nat.period_idx END AS billed_idx,
    coalesce(nat.was_final, false) AS late,
    CASE WHEN rej.reason0 IS NOT NULL THEN rej.reason0
         WHEN nat.period_idx IS NULL THEN 'outside_service_period'
         WHEN nat.was_final AND fo.open_idx IS NULL THEN 'no_open_period'
    END AS reject_reason,
    CASE WHEN rej.reason0 IS NOT NULL THEN rej.field0
         WHEN nat.period_idx IS NULL THEN 'occurred_at'
         WHEN nat.was_final AND fo.open_idx IS NULL THEN 'occurred_at'
    END AS reject_field
FROM rej
LEFT JOIN nat ON nat.line_id = rej.line_id
LEFT JOIN first_open fo ON fo.tenant_no = rej.tenant_no
LEFT JOIN cfg_pools pl ON pl.tenant_id = rej.tenant_id AND pl.pool = rej.allowance;
