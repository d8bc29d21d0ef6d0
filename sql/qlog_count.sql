-- qlog_count.sql: quarantine entries not yet listed in a quarantine file.
-- Inputs: qlog. Output: one count.
SELECT count(*) FROM qlog WHERE file_run IS NULL;
