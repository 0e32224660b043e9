// Package postgres opens authd's store on PostgreSQL (through pgx), for several instances
// sharing one database.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	auth "github.com/authd/authd"
	"github.com/authd/authd/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// constraintColumns names, for each unique constraint, the column the store reports.
var constraintColumns = map[string]string{
	"users_email_key_unique": "users.email_key",
	"users_phone_unique":     "users.phone",
	"social_accounts_pkey":   "social_accounts.provider",
	"users_legacy_id":        "users.legacy_id",
	"users_pkey":             "users.id",
}

var dialect = sqlstore.Dialect{
	StringAgg:  "string_agg",
	Goose:      goose.DialectPostgres,
	Numbered:   true,
	SkipLocked: "FOR UPDATE SKIP LOCKED",
	ForShare:   "FOR SHARE",
	LockEmail:  "SELECT pg_advisory_xact_lock(hashtext(?))",
	Queries:    queries,
	UniqueViolation: func(err error) string {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" {
			return constraintColumns[pg.ConstraintName]
		}
		return ""
	},
	Unavailable: unavailable,
}

// unavailable reports whether err means PostgreSQL cannot be reached or is not accepting work
// (starting up, shutting down, out of connections), rather than that a query was wrong.
func unavailable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err)
}

// Options tune the connection pool.
type Options struct {
	MaxConns         int           // open connections at most; default 10
	StatementTimeout time.Duration // a query running longer is cancelled; default 5 s
	ConnectTimeout   time.Duration // default 3 s
	// Existing opens only a database authd already migrated: one without authd's tables is
	// ErrNotCreated, and is left as it is. For the commands other than the server.
	Existing bool
}

// ErrNotCreated means that Options.Existing was set and authd has never migrated the database
// (no goose_db_version or signing_keys table on its search path).
var ErrNotCreated = errors.New("authd has not created its tables in this database")

// unreachableError is a database that does not answer, said in one line.
type unreachableError struct{ err error }

func (e unreachableError) Error() string   { return "cannot connect: " + connectReason(e.err) }
func (e unreachableError) Unwrap() []error { return []error{auth.ErrUnavailable, e.err} }

// connectReason is why a connection failed, in one line: the server's refusal or the network's
// error, without the driver's list of every address it tried.
func connectReason(err error) string {
	var pg *pgconn.PgError
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &pg):
		return pg.Message
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	msg := strings.TrimSpace(err.Error())
	return strings.TrimSpace(msg[strings.LastIndex(msg, "\n")+1:])
}

// Open connects to the database at url (postgres://...), applies the embedded migrations (one
// instance at a time, under an advisory lock) and returns the store. A database that does not
// answer is auth.ErrUnavailable.
func Open(ctx context.Context, url string, o Options) (*sqlstore.Store, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 5 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errors.New("invalid PostgreSQL URL") // the parser's message can quote the password
	}
	cfg.ConnectTimeout = o.ConnectTimeout
	cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	cfg.RuntimeParams["application_name"] = "authd"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, unreachableError{err}
	}
	if o.Existing {
		var migrated bool
		err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL AND to_regclass('signing_keys') IS NOT NULL`).Scan(&migrated)
		if err == nil && !migrated {
			err = ErrNotCreated
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	sub, _ := fs.Sub(migrations, "migrations")
	locker, err := lock.NewPostgresSessionLocker() // instances starting together take turns
	if err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.Open(ctx, db, dialect, sub, goose.WithSessionLocker(locker))
}
