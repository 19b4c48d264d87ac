-- Token ids grant things (a job belongs to the token that started it), so an
-- id must never be given out twice. Plain INTEGER PRIMARY KEY reuses the
-- highest id after a delete; AUTOINCREMENT never does. The sequence starts
-- past every id a job or a request ever recorded, in case one was already
-- reused or deleted before this migration.
CREATE TABLE tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    label        TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    one_time     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tokens_new (id, label, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, one_time)
    SELECT id, label, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, one_time FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_prefix ON tokens (prefix);
DELETE FROM sqlite_sequence WHERE name = 'tokens';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'tokens', MAX(COALESCE((SELECT MAX(id) FROM tokens), 0), COALESCE((SELECT MAX(token_id) FROM jobs), 0));
