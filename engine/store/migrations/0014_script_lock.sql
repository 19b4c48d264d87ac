-- A version's dependency lock in Windmill's text format (what wmill sync
-- carries as <name>.script.lock), and why the last resolution failed.
-- The lock is metadata of the content: a version keeps its hash when it
-- is resolved or pushed with a lock.
ALTER TABLE script_versions ADD COLUMN lock TEXT NOT NULL DEFAULT '';
ALTER TABLE script_versions ADD COLUMN lock_error TEXT NOT NULL DEFAULT '';
