-- +goose Up
-- A person's identity at a sign-in provider (Google's "sub"), linked to one user. The email is
-- not the key: it can change, and change hands.
CREATE TABLE social_accounts (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX social_accounts_user ON social_accounts (user_id);

-- +goose Down
DROP TABLE social_accounts;
