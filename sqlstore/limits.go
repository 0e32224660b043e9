package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	auth "github.com/authd/authd"
)

// limitKey is the row key of a limiter key. Keys hold emails, so the database sees only a digest.
func limitKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// AddHit counts one event for key in its window at now, opening a window that ends after
// window when none is open, and returns the events in the window and when it ends. It is one
// statement, so hits arriving at once, from any number of instances, are each counted.
func (s *Store) AddHit(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	var hits int
	var ends int64
	at := micros(now)
	err := s.row(ctx, nil, "addHit", limitKey(key), at+window.Microseconds(), at, at).Scan(&hits, &ends)
	if err != nil {
		return 0, time.Time{}, s.wrap(err)
	}
	return hits, fromMicros(ends), nil
}

// Hits returns the events counted for key in its window open at now and when it ends; 0 and
// the zero time when none is open.
func (s *Store) Hits(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var hits int
	var ends int64
	err := s.row(ctx, nil, "hits", limitKey(key), micros(now)).Scan(&hits, &ends)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, s.wrap(err)
	}
	return hits, fromMicros(ends), nil
}

// ClearHits forgets the events counted for key.
func (s *Store) ClearHits(ctx context.Context, key string) error {
	_, err := s.exec(ctx, nil, "clearHits", limitKey(key))
	return s.wrap(err)
}

// Limiter is auth.Limiter over a Store's counters: fixed windows in the database, so that the
// instances sharing it share the counts, with or without Redis.
type Limiter struct {
	store *Store
	now   func() time.Time
}

var _ auth.Limiter = (*Limiter)(nil)

// Limiter returns a limiter counting in s, reading time from now (time.Now when nil).
func (s *Store) Limiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{store: s, now: now}
}

// clock reads the time as the database keeps it, in whole microseconds, so that a window's end
// read back is exactly the one set.
func (l *Limiter) clock() time.Time { return l.now().Truncate(time.Microsecond) }

// Hit counts one event for key and reports whether it is within limit for its window, and
// when the window ends.
func (l *Limiter) Hit(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := l.clock()
	n, ends, err := l.store.AddHit(ctx, key, window, now)
	if err != nil {
		return false, 0, err
	}
	return n <= limit, ends.Sub(now), nil
}

// Count returns the events counted for key in its current window and when the window ends (0
// when no window is open).
func (l *Limiter) Count(ctx context.Context, key string, _ time.Duration) (int, time.Duration, error) {
	now := l.clock()
	n, ends, err := l.store.Hits(ctx, key, now)
	if err != nil || n == 0 {
		return 0, 0, err
	}
	return n, ends.Sub(now), nil
}

// Reset forgets key.
func (l *Limiter) Reset(ctx context.Context, key string) error { return l.store.ClearHits(ctx, key) }

// Unhit takes back one event of key's open window.
func (l *Limiter) Unhit(ctx context.Context, key string) error {
	return l.store.Unhit(ctx, key, l.clock())
}

// Unhit takes back one event counted for key in its window open at now, never below zero.
func (s *Store) Unhit(ctx context.Context, key string, now time.Time) error {
	_, err := s.exec(ctx, nil, "unhit", limitKey(key), micros(now))
	return s.wrap(err)
}
