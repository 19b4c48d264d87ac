-- Revoked tokens are remembered by their hash, so a caller still using one
-- hears that it was revoked rather than that it is unknown. A trigger
-- catches every revoke: the API's, the UI's and `millrun token revoke`'s.
-- Used login links (one_time) are not revokes.
CREATE TABLE revoked_tokens (
    secret_hash BLOB PRIMARY KEY,
    label       TEXT NOT NULL,
    revoked_at  INTEGER NOT NULL
);
CREATE TRIGGER tokens_revoked AFTER DELETE ON tokens WHEN old.one_time = 0
BEGIN
    INSERT OR REPLACE INTO revoked_tokens (secret_hash, label, revoked_at)
        VALUES (old.secret_hash, old.label, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
END;
