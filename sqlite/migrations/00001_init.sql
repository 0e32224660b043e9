-- +goose Up
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    first_name          TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    address             TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,  -- lower-cased email: uniqueness ignores case
    phone               TEXT UNIQUE,           -- E.164; NULL for accounts made by social sign-in
    email_verified      INTEGER NOT NULL DEFAULT 0,
    is_active           INTEGER NOT NULL DEFAULT 1,
    date_joined         INTEGER NOT NULL,      -- unix microseconds, as every time here
    password_hash       TEXT NOT NULL DEFAULT '', -- PHC string; '' is no usable password
    password_changed_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    jti           TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    successor_jti TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE reset_codes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- orders codes: the newest replaces the others
    id         TEXT NOT NULL UNIQUE,
    email_key  TEXT NOT NULL,
    user_id    TEXT,                              -- NULL: a request for an email with no account
    code_hash  BLOB NOT NULL,                     -- HMAC-SHA256; the digits are never stored
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER
);
CREATE INDEX reset_codes_email ON reset_codes (email_key, created_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payload         BLOB NOT NULL,                -- sealed with AES-GCM; emptied once sent
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    dead_at         INTEGER,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL UNIQUE, -- the highest signs; a second instance racing to make
    private_key BLOB NOT NULL,           -- the first key loses on this constraint
    created_at  INTEGER NOT NULL
);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE signing_keys;
DROP TABLE outbox;
DROP TABLE reset_codes;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
