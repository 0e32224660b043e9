-- +goose Up
CREATE TABLE social_accounts (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CONSTRAINT social_accounts_pkey PRIMARY KEY (provider, subject)
);
CREATE INDEX social_accounts_user ON social_accounts (user_id);

-- +goose Down
DROP TABLE social_accounts;
