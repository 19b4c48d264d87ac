-- Schedules, Windmill's: a cron with seconds in a time zone runs a script or
-- a flow. next_due is the due time not yet handled, persisted so a restart
-- neither repeats nor forgets one; jobs it started carry its path.
CREATE TABLE schedules (
  workspace      TEXT NOT NULL,
  path           TEXT NOT NULL,
  schedule       TEXT NOT NULL,
  timezone       TEXT NOT NULL,
  script_path    TEXT NOT NULL,
  is_flow        INTEGER NOT NULL DEFAULT 0,
  args           TEXT NOT NULL DEFAULT '{}',
  enabled        INTEGER NOT NULL DEFAULT 1,
  summary        TEXT,
  description    TEXT NOT NULL DEFAULT '',
  on_failure     TEXT,
  missed         TEXT NOT NULL DEFAULT 'skip' CHECK (missed IN ('skip', 'run_once')),
  next_due       INTEGER, -- micros; NULL while disabled
  error          TEXT,    -- the last failed run, cleared by a success
  edited_by      TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (workspace, path)
);
ALTER TABLE jobs ADD COLUMN schedule_path TEXT;
CREATE INDEX jobs_schedule ON jobs (workspace, schedule_path, created_at DESC) WHERE schedule_path IS NOT NULL;
