-- +goose Up
-- The audit log (the contract's "Operating it"): one row per security event, written in the
-- transaction of the change it records. The admin API reads it newest first, by time or by
-- account or event; the purge deletes what is older than AUTH_AUDIT_RETENTION by time.
CREATE TABLE audit_events (
	id          TEXT PRIMARY KEY,
	occurred_at INTEGER NOT NULL,
	event       TEXT NOT NULL,
	user_id     TEXT NOT NULL DEFAULT '',
	sid         TEXT NOT NULL DEFAULT '',
	ip          TEXT NOT NULL DEFAULT '',
	user_agent  TEXT NOT NULL DEFAULT '',
	request_id  TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at, id);
CREATE INDEX audit_events_event ON audit_events (event, occurred_at, id);

-- +goose Down
DROP TABLE audit_events;
