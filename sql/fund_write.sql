-- fund_write.sql: keep the waterfall's splits.
-- Inputs: the view arrow_funded (pipeline/fund). Outputs: rows of funded.
INSERT INTO funded SELECT * FROM arrow_funded;
