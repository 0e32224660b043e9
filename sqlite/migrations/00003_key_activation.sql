-- +goose Up
-- A rotated key is published at once but signs only from activates_at, once every instance
-- has had time to load it.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE signing_keys DROP COLUMN activates_at;
