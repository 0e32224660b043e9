-- +goose Up
-- Refresh tokens are signed with HS256 under secrets that only authd holds, never with the
-- published Ed25519 keys: a service checking tokens against the JWKS cannot take one for an
-- access token. Each secret has its own kid and generation, like a signing key.
CREATE TABLE refresh_keys (
    kid         TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL UNIQUE,
    secret      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    activates_at INTEGER NOT NULL DEFAULT 0
);
-- How a sign-in was proven (RFC 8176 values, comma-separated), for the amr of its access tokens.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
-- Whether the provider vouched for the email when the identity was linked. Proving the address
-- later (a reset, a verification code, an authoritative link) removes the identities that were not.
ALTER TABLE social_accounts ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
UPDATE social_accounts SET email_verified = (SELECT u.email_verified FROM users u WHERE u.id = social_accounts.user_id);
-- A code's email, so that a newer code can stop the older one's email from going out.
ALTER TABLE outbox ADD COLUMN code_id TEXT;
CREATE INDEX outbox_code ON outbox (code_id) WHERE code_id IS NOT NULL;

-- +goose Down
DROP INDEX outbox_code;
ALTER TABLE outbox DROP COLUMN code_id;
ALTER TABLE social_accounts DROP COLUMN email_verified;
ALTER TABLE sessions DROP COLUMN amr;
DROP TABLE refresh_keys;
