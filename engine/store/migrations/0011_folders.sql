-- Windmill's folders (f/<name>/...): only their metadata, so a workspace
-- pulled with wmill sync carries its folder.meta files both ways. The
-- column is called path so the keyed upsert serves it too.
CREATE TABLE folders (
  workspace    TEXT NOT NULL,
  path         TEXT NOT NULL, -- the folder's name
  display_name TEXT NOT NULL DEFAULT '',
  summary      TEXT,
  owners       TEXT NOT NULL DEFAULT '[]', -- JSON array
  extra_perms  TEXT NOT NULL DEFAULT '{}', -- JSON object
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (workspace, path)
);
