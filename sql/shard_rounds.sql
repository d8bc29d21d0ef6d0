-- shard_rounds.sql: the rounds whose invoices a shard holds without their numbers yet.
-- Inputs: shard_invoices (shard_assign.sql creates it when missing). Output: round_id.
SELECT DISTINCT round_id FROM shard_invoices ORDER BY round_id
