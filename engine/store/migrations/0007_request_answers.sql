-- What millrun answered, so the inspector can show why a call failed:
-- the start of the answer, whether the run it returned failed, and a note
-- for calls millrun answered itself (Slack's and Discord's handshakes).
ALTER TABLE requests ADD COLUMN response BLOB;
ALTER TABLE requests ADD COLUMN run_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN note TEXT NOT NULL DEFAULT '';
