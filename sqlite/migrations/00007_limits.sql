-- +goose Up
-- Fixed-window counters that every instance shares when no Redis is configured: failed sign-ins
-- per email. A row is keyed by a digest of the limiter's key, so the table holds no email; it
-- is deleted by the purge once its window has ended.
CREATE TABLE limits (
    key_hash    TEXT PRIMARY KEY,
    hits        INTEGER NOT NULL,
    window_ends INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX limits_window_ends ON limits (window_ends);

-- +goose Down
DROP TABLE limits;
