package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"time"

	auth "github.com/authd/authd"
)

// The admin API's store methods (auth.Store, "The admin API").

func scanUserRecord(row scanner) (auth.UserRecord, error) {
	var r auth.UserRecord
	var social string
	var lastLogin int64
	u, err := scanUserAnd(row, &social, &r.RecoveryCodesLeft, &lastLogin)
	r.User, r.Social, r.LastLogin = u, providers(social), fromMicros(lastLogin)
	return r, err
}

// likePattern is a LIKE pattern matching s anywhere, its own wildcards escaped.
func likePattern(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// ListUsers returns the accounts matching q, in (date_joined, id) order, after q's keyset.
func (s *Store) ListUsers(ctx context.Context, q auth.UserListQuery) ([]auth.UserRecord, error) {
	after := int64(math.MinInt64)
	if q.AfterID != "" {
		after = q.AfterJoined.UnixMicro()
	}
	pattern := likePattern(q.Search)
	rows, err := s.stmt["listUsers"].QueryContext(ctx, after, after, q.AfterID,
		q.Search, pattern, pattern, pattern, pattern, q.Limit)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := []auth.UserRecord{}
	for rows.Next() {
		r, err := scanUserRecord(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, r)
	}
	return out, s.wrap(rows.Err())
}

// UserRecord returns the account with its profile and newest sign-in, or auth.ErrNotFound.
func (s *Store) UserRecord(ctx context.Context, id string) (auth.UserRecord, error) {
	r, err := scanUserRecord(s.row(ctx, nil, "userRecord", id))
	return r, s.wrap(err)
}

// UpdateUser applies u in one transaction; a new email uses up the account's unused codes.
func (s *Store) UpdateUser(ctx context.Context, id string, u auth.UserUpdate, at time.Time, audit ...auth.AuditEvent) error {
	var key sql.NullString
	if u.Email != nil {
		key = sql.NullString{String: auth.EmailKey(*u.Email), Valid: true}
	}
	err := s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "updateUser", nullString(u.FirstName), nullString(u.LastName), nullString(u.Address),
			nullString(u.Phone), nullString(u.Email), key, nullBool(u.Active), nullBool(u.EmailVerified), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrNotFound
		}
		if u.Email != nil {
			// A code mailed to the old address must not change the account any more.
			_, err = s.exec(ctx, tx, "cancelUserCodes", micros(at), id)
		}
		return err
	})
	return s.userConflict(err)
}

func nullBool(b *bool) sql.NullInt64 {
	if b == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(boolInt(*b)), Valid: true}
}

// RetireSigningKey marks the signing key retired at at; auth.ErrNotFound when there is no such
// key not yet retired.
func (s *Store) RetireSigningKey(ctx context.Context, kid string, at time.Time, audit ...auth.AuditEvent) error {
	return s.retire(ctx, "retireSigningKey", kid, at, audit)
}

// RetireRefreshKey marks the refresh key retired at at, as RetireSigningKey does.
func (s *Store) RetireRefreshKey(ctx context.Context, kid string, at time.Time, audit ...auth.AuditEvent) error {
	return s.retire(ctx, "retireRefreshKey", kid, at, audit)
}

func (s *Store) retire(ctx context.Context, query, kid string, at time.Time, audit []auth.AuditEvent) error {
	return s.audited(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, query, micros(at), kid)
		if err == nil && n == 0 {
			err = auth.ErrNotFound
		}
		return err
	})
}

// OutboxBacklog returns how many emails wait to be sent and when the oldest was queued (zero
// when none waits): the metrics' outbox gauges.
func (s *Store) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest int64
	err := s.row(ctx, nil, "outboxBacklog").Scan(&n, &oldest)
	return n, fromMicros(oldest), s.wrap(err)
}

// failures counts the database operations that failed, for the metrics.
type failures struct{ unavailable, query atomic.Int64 }

// countFailure counts err as a failed query unless it is a finding, not a failure: a domain
// answer (a lost race, a taken email), a unique constraint the caller turns into one, or a
// request its client gave up on.
func (s *Store) countFailure(err error) {
	var throttled *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrConflict), errors.Is(err, auth.ErrNotFound), errors.Is(err, auth.ErrEmailTaken),
		errors.Is(err, auth.ErrPhoneTaken), errors.Is(err, auth.ErrUnavailable), errors.As(err, &throttled),
		errors.Is(err, context.Canceled):
		return
	case s.d.UniqueViolation != nil && s.d.UniqueViolation(err) != "":
		return
	}
	s.failures.query.Add(1)
}

// Errors returns how many database operations failed so far because the database could not be
// reached, and for any other reason.
func (s *Store) Errors() (unavailable, query int64) {
	return s.failures.unavailable.Load(), s.failures.query.Load()
}
