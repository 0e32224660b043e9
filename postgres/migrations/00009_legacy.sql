-- +goose Up
-- Moving in from the original Django service. An imported account keeps the original's primary
-- key, which its tokens name as user_id.
ALTER TABLE users ADD COLUMN legacy_id TEXT;
CREATE UNIQUE INDEX users_legacy_id ON users (legacy_id) WHERE legacy_id IS NOT NULL;
-- When every sign-in of the account was last ended (sign out everywhere, a password change): the
-- original's tokens issued before it are refused, as this service's own sign-ins are revoked.
ALTER TABLE users ADD COLUMN sessions_revoked_at BIGINT NOT NULL DEFAULT 0;
-- The original's refresh tokens: those simplejwt recorded (outstanding_pk is its primary key, which
-- its blacklist names), and those used here, each once, with the sign-in it became.
CREATE TABLE legacy_tokens (
    jti            TEXT PRIMARY KEY,
    outstanding_pk TEXT,
    legacy_user_id TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    session_id     TEXT,
    successor_jti  TEXT
);
CREATE INDEX legacy_tokens_outstanding ON legacy_tokens (outstanding_pk) WHERE outstanding_pk IS NOT NULL;
CREATE INDEX legacy_tokens_expires ON legacy_tokens (expires_at);
CREATE TABLE legacy_blacklist (
    outstanding_pk TEXT PRIMARY KEY,
    blacklisted_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE legacy_blacklist;
DROP TABLE legacy_tokens;
ALTER TABLE users DROP COLUMN sessions_revoked_at;
DROP INDEX users_legacy_id;
ALTER TABLE users DROP COLUMN legacy_id;
