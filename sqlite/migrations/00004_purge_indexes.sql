-- +goose Up
-- Purging must be driven by indexes, so that it never scans (and, on SQLite, never holds the
-- write lock over) millions of rows. A sign-in now records when its newest token expires.
ALTER TABLE sessions ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET expires_at = COALESCE((SELECT MAX(t.expires_at) FROM refresh_tokens t WHERE t.session_id = sessions.id), 0);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX reset_codes_created ON reset_codes (created_at);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;

-- +goose Down
DROP INDEX outbox_dead;
DROP INDEX outbox_sent;
DROP INDEX reset_codes_created;
DROP INDEX sessions_revoked;
DROP INDEX sessions_expires;
ALTER TABLE sessions DROP COLUMN expires_at;
