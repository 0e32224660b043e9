-- +goose Up
-- Every refresh is one lookup and one write by jti, so the table is keyed by jti itself
-- (WITHOUT ROWID): one b-tree instead of a rowid table plus an index, and, with time-ordered
-- jti values, a new row lands on the page of the last one. The index by sign-in and the foreign
-- key go too: each cost a random page per rotation, and served only to delete a revoked
-- sign-in's tokens at once. Such tokens now stay until they expire, refused because their
-- sign-in is gone, and the expiry purge removes them.
CREATE TABLE refresh_tokens_by_jti (
    jti           TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    successor_jti TEXT
) WITHOUT ROWID;
INSERT INTO refresh_tokens_by_jti SELECT jti, session_id, user_id, key_id, issued_at, expires_at, used_at, successor_jti FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_by_jti RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- +goose Down
CREATE TABLE refresh_tokens_by_rowid (
    jti           TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    successor_jti TEXT
);
INSERT INTO refresh_tokens_by_rowid SELECT t.jti, t.session_id, t.user_id, t.key_id, t.issued_at, t.expires_at, t.used_at, t.successor_jti
    FROM refresh_tokens t WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id);
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_by_rowid RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
