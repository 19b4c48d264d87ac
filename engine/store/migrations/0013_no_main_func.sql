-- Windmill's no_main_func: a script without a main function is a library,
-- saved and listed but never run.
ALTER TABLE script_versions ADD COLUMN no_main_func INTEGER NOT NULL DEFAULT 0;
