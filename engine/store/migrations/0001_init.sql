CREATE TABLE scripts (
    workspace   TEXT NOT NULL,
    path        TEXT NOT NULL,
    latest_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace, path)
);

CREATE TABLE script_versions (
    hash              TEXT PRIMARY KEY,
    workspace         TEXT NOT NULL,
    path              TEXT NOT NULL,
    language          TEXT NOT NULL,
    content           TEXT NOT NULL,
    summary           TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    schema            TEXT NOT NULL,
    timeout_s         INTEGER NOT NULL DEFAULT 0,
    concurrency_limit INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);
CREATE INDEX script_versions_path ON script_versions (workspace, path, created_at DESC);

-- Times are unix microseconds: one integer type orders, compares and pages cheaply.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    workspace         TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('script', 'flow', 'preview')),
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
    CHECK ((status IN ('queued', 'running')) = (completed_at IS NULL))
);
CREATE INDEX jobs_created ON jobs (workspace, created_at DESC, id DESC);
CREATE INDEX jobs_path_created ON jobs (workspace, script_path, created_at DESC, id DESC);
CREATE INDEX jobs_status_created ON jobs (workspace, status, created_at DESC, id DESC);
CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('queued', 'running');

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    label        TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX tokens_prefix ON tokens (prefix);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
