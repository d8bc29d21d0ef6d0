-- final.sql: zero's January was final before its thresholds were configured.
UPDATE cfg_periods SET was_final = true WHERE tenant_id = 'zero' AND period_idx = 0;
