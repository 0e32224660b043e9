-- +goose Up
-- Two-factor sign-in. An enrolment is a row with confirmed_at NULL; last_step is the newest
-- time step whose code was accepted, so that no code is accepted twice, on any instance.
CREATE TABLE totp (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BYTEA NOT NULL,         -- sealed with AUTH_MASTER_KEY when it is set
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,            -- HMAC-SHA256; the codes themselves are never stored
    used_at  BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
-- A sign-in waiting for its second factor: the mfa_token is stored only as a SHA-256 digest.
CREATE TABLE mfa_challenges (
    token_hash          BYTEA PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amr                 TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    used_at             BIGINT
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- +goose Down
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp;
