-- A one-time token is only good for exchanging into a browser session once
-- (the login URL serve prints); it never authorizes an API call itself.
ALTER TABLE tokens ADD COLUMN one_time INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at DESC);
