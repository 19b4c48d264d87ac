CREATE TABLE flows (
    workspace   TEXT NOT NULL,
    path        TEXT NOT NULL,
    latest_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace, path)
);

CREATE TABLE flow_versions (
    hash        TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    path        TEXT NOT NULL,
    summary     TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    value       TEXT NOT NULL,
    schema      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX flow_versions_path ON flow_versions (workspace, path, created_at DESC);

-- Steps of a flow run as child jobs; flow_status is the flow job's progress.
ALTER TABLE jobs ADD COLUMN parent_job TEXT;
ALTER TABLE jobs ADD COLUMN flow_status TEXT;
CREATE INDEX jobs_parent ON jobs (parent_job) WHERE parent_job IS NOT NULL;
