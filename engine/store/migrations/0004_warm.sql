-- Windmill's dedicated_worker flag: run this script on warm workers.
ALTER TABLE script_versions ADD COLUMN dedicated_worker INTEGER NOT NULL DEFAULT 0;
