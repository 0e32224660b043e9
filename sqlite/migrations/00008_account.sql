-- +goose Up
-- A sign-in's list entry: the address and user agent that started it, and its last refresh.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
-- The expiry of its newest refresh token, written with each: what decides that a sign-in is
-- live in the list, without reading its tokens (SQLite keeps no index of tokens by sign-in).
-- Sign-ins from before carry their purge expiry, at most an hour past it.
ALTER TABLE sessions ADD COLUMN refresh_expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET refresh_expires_at = expires_at;
CREATE INDEX sessions_user_live ON sessions (user_id, created_at) WHERE revoked_at IS NULL;
-- Codes serve email verification and change as well as resets; an email change's code is found
-- by its account (the new address has none yet) and carries the address it proves.
ALTER TABLE reset_codes ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reset';
ALTER TABLE reset_codes ADD COLUMN new_email TEXT NOT NULL DEFAULT '';
-- A code that registration mailed unasked is not counted by the hourly cap on asking for codes:
-- an address with no account (which had no registration) must get the same answers.
ALTER TABLE reset_codes ADD COLUMN by_registration INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reset_codes_user ON reset_codes (user_id, purpose) WHERE user_id IS NOT NULL;
-- Deleting an account deletes its unsent mail.
ALTER TABLE outbox ADD COLUMN user_id TEXT;
CREATE INDEX outbox_user ON outbox (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX outbox_user;
ALTER TABLE outbox DROP COLUMN user_id;
DROP INDEX reset_codes_user;
ALTER TABLE reset_codes DROP COLUMN by_registration;
ALTER TABLE reset_codes DROP COLUMN new_email;
ALTER TABLE reset_codes DROP COLUMN purpose;
DROP INDEX sessions_user_live;
ALTER TABLE sessions DROP COLUMN refresh_expires_at;
ALTER TABLE sessions DROP COLUMN last_used_at;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
