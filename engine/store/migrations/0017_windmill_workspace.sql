-- What a Windmill workspace carries that millrun keeps so that a pull
-- gives it back as it was pushed.
--
-- extra: the fields of a script's or flow's create request that the
-- columns do not hold (tag, envs, priority, the schema as sent, ...), a
-- JSON object; '' for versions saved before.
ALTER TABLE script_versions ADD COLUMN extra TEXT NOT NULL DEFAULT '';
ALTER TABLE flow_versions ADD COLUMN extra TEXT NOT NULL DEFAULT '';

-- Items of kinds millrun does not run (resource types, users, groups,
-- workspace settings and encryption key, workspace dependencies, apps),
-- each its JSON document as Windmill's routes give it.
CREATE TABLE kept_items (
    workspace  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, kind, name)
);

-- The code of jobs that run code rather than a saved version: previews
-- and dependency jobs for code sent with the request, with the local
-- versions of the scripts it imports (a JSON object path -> code; wmill
-- sends them for scripts not pushed yet). It goes with its job.
CREATE TABLE job_code (
    job_id   TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    content  TEXT NOT NULL,
    lock     TEXT NOT NULL DEFAULT '',
    modules  TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER job_code_gone AFTER DELETE ON jobs BEGIN
    DELETE FROM job_code WHERE job_id = old.id;
END;
