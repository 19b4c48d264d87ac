-- Flow job kinds as Windmill names them, so job_kinds filters and the
-- wmill CLI read them: a flow's inline-script step is a 'flowscript', a
-- loop iteration or a branch runs as a 'flownode' (a sub-flow with its
-- own flow_status), a skipped or mocked step is an 'identity'. SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt with
-- the same columns, rows and indexes, as in 0015.
CREATE TABLE jobs_new (
    id                TEXT PRIMARY KEY,
    workspace         TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('script', 'flow', 'preview', 'dependencies', 'flowscript', 'flownode', 'flowpreview', 'identity')),
    script_path       TEXT NOT NULL DEFAULT '',
    script_hash       TEXT NOT NULL DEFAULT '',
    language          TEXT NOT NULL DEFAULT '',
    args              TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failure', 'canceled')),
    result            TEXT,
    logs              TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    scheduled_for     INTEGER NOT NULL,
    started_at        INTEGER,
    completed_at      INTEGER,
    duration_ms       INTEGER,
    timeout_s         INTEGER NOT NULL DEFAULT 0,
    concurrency_limit INTEGER NOT NULL DEFAULT 0,
    trigger           TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL DEFAULT '',
    token_id          INTEGER,
    headers           TEXT,
    canceled_by       TEXT,
    canceled_reason   TEXT,
    parent_job        TEXT,
    flow_status       TEXT,
    schedule_path     TEXT,
    CHECK ((status IN ('queued', 'running')) = (completed_at IS NULL))
);
INSERT INTO jobs_new (id, workspace, kind, script_path, script_hash, language, args, status, result, logs, created_at, scheduled_for,
    started_at, completed_at, duration_ms, timeout_s, concurrency_limit, trigger, created_by, token_id, headers, canceled_by,
    canceled_reason, parent_job, flow_status, schedule_path)
SELECT id, workspace, kind, script_path, script_hash, language, args, status, result, logs, created_at, scheduled_for,
    started_at, completed_at, duration_ms, timeout_s, concurrency_limit, trigger, created_by, token_id, headers, canceled_by,
    canceled_reason, parent_job, flow_status, schedule_path FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_created ON jobs (workspace, created_at DESC, id DESC);
CREATE INDEX jobs_path_created ON jobs (workspace, script_path, created_at DESC, id DESC);
CREATE INDEX jobs_status_created ON jobs (workspace, status, created_at DESC, id DESC);
CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_parent ON jobs (parent_job) WHERE parent_job IS NOT NULL;
CREATE INDEX jobs_schedule ON jobs (workspace, schedule_path, created_at DESC) WHERE schedule_path IS NOT NULL;
