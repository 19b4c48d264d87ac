-- Resources: named JSON values (credentials, mostly), encrypted at rest.
CREATE TABLE resources (
  workspace     TEXT NOT NULL,
  path          TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  value         BLOB NOT NULL, -- AES-GCM sealed JSON
  description   TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (workspace, path)
);

-- HTTP routes (Windmill's http_triggers).
CREATE TABLE http_triggers (
  workspace  TEXT NOT NULL,
  path       TEXT NOT NULL,
  definition TEXT NOT NULL, -- the trigger as JSON
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace, path)
);

-- Every request to a webhook or route, for the inspector and replay.
CREATE TABLE requests (
  id             INTEGER PRIMARY KEY,
  received_at    INTEGER NOT NULL,
  method         TEXT NOT NULL,
  url            TEXT NOT NULL,
  caller_ip      TEXT NOT NULL DEFAULT '',
  headers        TEXT NOT NULL DEFAULT '{}',
  body           BLOB,
  body_truncated INTEGER NOT NULL DEFAULT 0,
  status         INTEGER NOT NULL DEFAULT 0,
  duration_ms    INTEGER NOT NULL DEFAULT 0,
  job_id         TEXT NOT NULL DEFAULT '',
  route          TEXT NOT NULL DEFAULT '',
  auth_ok        INTEGER NOT NULL DEFAULT 0,
  auth_reason    TEXT NOT NULL DEFAULT '',
  replay_of      INTEGER
);
CREATE INDEX requests_job ON requests (job_id) WHERE job_id != '';
CREATE INDEX requests_route ON requests (route, id);
