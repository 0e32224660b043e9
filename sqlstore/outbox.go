package sqlstore

import (
	"context"
	"database/sql"
	"time"

	auth "github.com/authd/authd"
)

func (s *Store) insertOutbox(ctx context.Context, tx *sql.Tx, m *auth.Outgoing) error {
	if m == nil {
		return nil
	}
	code := sql.NullString{String: m.CodeID, Valid: m.CodeID != ""}
	user := sql.NullString{String: m.UserID, Valid: m.UserID != ""}
	_, err := s.exec(ctx, tx, "insertOutbox", m.Payload, micros(m.CreatedAt), micros(m.CreatedAt), code, user)
	return err
}

// ClaimOutbox leases up to limit due emails until leaseUntil and returns them; each claim counts
// as an attempt.
func (s *Store) ClaimOutbox(ctx context.Context, now, leaseUntil time.Time, limit int) ([]auth.OutboxItem, error) {
	rows, err := s.stmt["claimOutbox"].QueryContext(ctx, micros(leaseUntil), micros(now), micros(now), limit)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var items []auth.OutboxItem
	for rows.Next() {
		var it auth.OutboxItem
		if err := rows.Scan(&it.ID, &it.Payload, &it.Attempts); err != nil {
			return nil, s.wrap(err)
		}
		items = append(items, it)
	}
	return items, s.wrap(rows.Err())
}

// MarkSent records a delivered email and drops its content.
func (s *Store) MarkSent(ctx context.Context, id int64, now time.Time) error {
	_, err := s.exec(ctx, nil, "outboxSent", micros(now), []byte{}, id)
	return s.wrap(err)
}

// MarkRetry schedules another attempt at next, keeping why the last one failed.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	_, err := s.exec(ctx, nil, "outboxFailed", micros(next), reason, id)
	return s.wrap(err)
}

// MarkDead gives up on an email, dropping its content and keeping why.
func (s *Store) MarkDead(ctx context.Context, id int64, now time.Time, reason string) error {
	_, err := s.exec(ctx, nil, "outboxDead", micros(now), reason, []byte{}, id)
	return s.wrap(err)
}
