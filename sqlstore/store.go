// Package sqlstore is authd's store in SQL, shared by the SQLite and PostgreSQL backends: the
// same queries, with the few dialect differences named in Dialect. Times are stored as unix
// microseconds so both databases compare them the same way.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"

	auth "github.com/authd/authd"
)

// Dialect is what differs between the SQL databases authd runs on.
type Dialect struct {
	// Goose is the migration tool's name for the database.
	Goose goose.Dialect
	// Numbered placeholders ($1, $2) instead of ?.
	Numbered bool
	// SkipLocked is appended to the outbox claim's row selection (FOR UPDATE SKIP LOCKED) where
	// the database has it; SQLite serialises writers instead.
	SkipLocked string
	// ForShare is appended to the read of the user a new sign-in depends on (FOR SHARE), so a
	// concurrent change of the user's credentials waits for it or it sees the change. SQLite's
	// writers are serialised anyway.
	ForShare string
	// StringAgg is the aggregate that joins strings with a separator: group_concat or string_agg.
	StringAgg string
	// GroupCommit batches concurrent refresh rotations into one transaction (see rotations.go):
	// for databases whose writers are serialised and commit one fsync at a time.
	GroupCommit bool
	// Queries are statements only this database runs, prepared with the shared ones (and
	// replacing any of the same name). Where given, "rotateRefresh" and "createSession" make
	// those writes one statement each instead of a transaction of several (see sessions.go for
	// their arguments): PostgreSQL runs data-modifying CTEs, SQLite does not.
	Queries map[string]string
	// LockEmail, where set, serialises transactions about one email (the hourly code cap) across
	// connections; SQLite's BEGIN IMMEDIATE already serialises every writer.
	LockEmail string
	// UniqueViolation returns the first column ("users.email_key") of the unique constraint err
	// violates, or "".
	UniqueViolation func(err error) string
	// Unavailable reports whether err means the database cannot be reached (as opposed to a
	// query that failed).
	Unavailable func(err error) bool
}

// Store implements auth.Store and the mail sender's outbox over database/sql.
type Store struct {
	db   *sql.DB
	d    Dialect
	stmt map[string]*sql.Stmt // every query, prepared once (database/sql re-prepares per connection)

	rotations     chan *rotation // group commit's queue, when the dialect asks for it
	quit          chan struct{}
	rotationsDone chan struct{}
	closeOnce     sync.Once

	failures failures // for the metrics (admin.go)
}

var _ auth.Store = (*Store)(nil)

// newStore returns a Store over db, whose schema must already be migrated. It prepares every
// query once, so no request pays for parsing SQL.
func newStore(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d, stmt: map[string]*sql.Stmt{}}
	all := maps.Clone(queries)
	maps.Copy(all, d.Queries)
	for name, q := range all {
		st, err := db.PrepareContext(ctx, s.rebind(q))
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", name, err)
		}
		s.stmt[name] = st
	}
	if d.GroupCommit {
		s.startRotations()
	}
	return s, nil
}

// DB returns the underlying database, for tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the group-commit writer, after the rotations already queued, and closes the
// database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.rotations != nil {
			close(s.quit)
			<-s.rotationsDone
		}
	})
	return s.db.Close()
}

func (s *Store) rebind(q string) string {
	q = strings.NewReplacer("{skip_locked}", s.d.SkipLocked, "{for_share}", s.d.ForShare, "{string_agg}", s.d.StringAgg).Replace(q)
	if !s.d.Numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.wrap(s.db.PingContext(ctx)) }

// wrap turns driver errors into the domain's: no rows is auth.ErrNotFound, an unreachable
// database is auth.ErrUnavailable.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return auth.ErrNotFound
	case s.d.Unavailable != nil && s.d.Unavailable(err):
		s.failures.unavailable.Add(1)
		return errors.Join(auth.ErrUnavailable, err)
	}
	s.countFailure(err)
	return err
}

// inTx runs fn in a transaction (BEGIN IMMEDIATE on SQLite), committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

// prepared returns the named statement, bound to tx when there is one.
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	if tx != nil {
		return tx.StmtContext(ctx, s.stmt[name])
	}
	return s.stmt[name]
}

// exec runs a named statement (in tx, if not nil) and returns the rows it affected.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, name string, args ...any) (int64, error) {
	res, err := s.prepared(ctx, tx, name).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// row runs a named query expected to return one row.
func (s *Store) row(ctx context.Context, tx *sql.Tx, name string, args ...any) *sql.Row {
	return s.prepared(ctx, tx, name).QueryRowContext(ctx, args...)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func nullMicros(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: micros(t), Valid: !t.IsZero()}
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Open applies the migrations in fsys (a folder of goose SQL files) to db and returns the store
// over it. It takes db over: on failure, db is closed.
func Open(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS, opts ...goose.ProviderOption) (*Store, error) {
	if err := migrate(ctx, db, d.Goose, fsys, opts...); err != nil {
		db.Close()
		return nil, err
	}
	s, err := newStore(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, opts ...goose.ProviderOption) error {
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}
