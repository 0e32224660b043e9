-- +goose Up
-- The admin API and commands. authd keys retire marks a key retired: it verifies nothing more.
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
ALTER TABLE refresh_keys ADD COLUMN retired_at BIGINT;
-- The account list pages by (date_joined, id); the outbox metrics read the oldest unsent mail.
CREATE INDEX users_joined ON users (date_joined, id);
CREATE INDEX outbox_unsent_created ON outbox (created_at) WHERE sent_at IS NULL AND dead_at IS NULL;

-- +goose Down
DROP INDEX outbox_unsent_created;
DROP INDEX users_joined;
ALTER TABLE refresh_keys DROP COLUMN retired_at;
ALTER TABLE signing_keys DROP COLUMN retired_at;
