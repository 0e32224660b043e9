package sqlstore

import (
	"context"
	"database/sql"
	"time"

	auth "github.com/authd/authd"
)

// Group commit of refresh rotations, for SQLite. There every write transaction is serialised and
// each commit waits for the disk, so a rotation per transaction caps refreshes at one fsync each.
// Instead one goroutine applies every rotation that queued while the previous commit was under
// way in a single transaction: one fsync for all, each rotation still a conditional write that
// only one request can win.

type rotation struct {
	jti  string
	next auth.RefreshToken
	now  time.Time
	done chan error
}

const maxRotationBatch = 128

// startRotations starts the group-commit writer; Close stops it.
func (s *Store) startRotations() {
	s.rotations = make(chan *rotation, maxRotationBatch)
	s.quit, s.rotationsDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.rotationsDone)
		for {
			select {
			case <-s.quit:
				for { // answer whatever is still queued
					select {
					case r := <-s.rotations:
						r.done <- sql.ErrConnDone
					default:
						return
					}
				}
			case r := <-s.rotations:
				batch := []*rotation{r}
			more:
				for len(batch) < maxRotationBatch {
					select {
					case r := <-s.rotations:
						batch = append(batch, r)
					default:
						break more
					}
				}
				s.applyRotations(batch)
			}
		}
	}()
}

// queueRotation hands a rotation to the writer and waits for its commit.
func (s *Store) queueRotation(ctx context.Context, jti string, next auth.RefreshToken, now time.Time) error {
	r := &rotation{jti: jti, next: next, now: now, done: make(chan error, 1)}
	select {
	case s.rotations <- r:
	case <-s.quit:
		return sql.ErrConnDone
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.rotationsDone:
		return sql.ErrConnDone
	case <-ctx.Done(): // it may still commit: as with a lost response, the reuse window covers it
		return ctx.Err()
	}
}

// applyRotations commits a batch in one transaction. If anything but a lost race fails, each
// rotation is retried in a transaction of its own, so one bad request cannot fail the others.
func (s *Store) applyRotations(batch []*rotation) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := make([]error, len(batch))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, r := range batch {
			results[i] = s.rotate(ctx, tx, r.jti, r.next, r.now)
			if results[i] != nil && results[i] != auth.ErrConflict {
				return results[i]
			}
		}
		return nil
	})
	for i, r := range batch {
		switch {
		case err == nil:
			r.done <- results[i]
		case len(batch) == 1:
			r.done <- err
		default:
			r.done <- s.inTx(ctx, func(tx *sql.Tx) error { return s.rotate(ctx, tx, r.jti, r.next, r.now) })
		}
	}
}
