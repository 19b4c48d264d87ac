-- Windmill's variables: one string each, sealed like resources (secret or
-- not: the database file alone gives nothing away).
CREATE TABLE variables (
  workspace   TEXT NOT NULL,
  path        TEXT NOT NULL,
  value       BLOB NOT NULL, -- AES-GCM sealed
  is_secret   INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (workspace, path)
);
