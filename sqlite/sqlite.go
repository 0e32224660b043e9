// Package sqlite opens authd's store on an embedded SQLite file (modernc.org/sqlite, pure Go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authd/authd/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect is SQLite's: ? placeholders, writers serialised by BEGIN IMMEDIATE.
var dialect = sqlstore.Dialect{
	StringAgg:   "group_concat",
	Goose:       goose.DialectSQLite3,
	GroupCommit: true,
	UniqueViolation: func(err error) string {
		var e *sqlite.Error
		if !errors.As(err, &e) || (e.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && e.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			return ""
		}
		// "... UNIQUE constraint failed: users.email_key (2067)": the constraint's first column.
		msg := e.Error()
		cols := msg[strings.LastIndex(msg, "failed: ")+len("failed: "):]
		first, _, _ := strings.Cut(cols, ",")
		first, _, _ = strings.Cut(first, " ")
		return first
	},
}

// Options tune the database.
type Options struct {
	// Synchronous is SQLite's synchronous mode: "full" (the default) syncs the disk at every
	// commit, so an acknowledged write survives a power loss; "normal" syncs at checkpoints,
	// so it survives a crash of authd or of the operating system's processes but a power loss
	// can undo the last commits (https://www.sqlite.org/pragma.html#pragma_synchronous).
	Synchronous string
	// Existing opens only a database authd already made: a missing file, or one without authd's
	// tables, is ErrNotCreated, and nothing is created. For the commands other than the server.
	Existing bool
}

// ErrNotCreated means that Options.Existing was set and authd has not made a database at the path.
var ErrNotCreated = errors.New("no authd database")

// Open opens (creating it and its folder if needed, unless Options.Existing) the SQLite database
// at path, applies the embedded migrations and returns the store. The database runs in WAL mode;
// a busy timeout and BEGIN IMMEDIATE transactions make concurrent writers wait rather than fail.
func Open(ctx context.Context, path string, opts ...Options) (*sqlstore.Store, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	sync := "FULL"
	if strings.EqualFold(o.Synchronous, "normal") {
		sync = "NORMAL"
	}
	if o.Existing {
		if err := checkCreated(ctx, path); err != nil {
			return nil, err
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	q := url.Values{}
	// journal_size_limit: a large transaction (a migration, a purge after a long outage) grows
	// the WAL file, and SQLite keeps that size for reuse; this trims it back after a checkpoint.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + sync + ")", "foreign_keys(1)", "journal_size_limit(67108864)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	if o.Existing {
		q.Set("mode", "rw") // even a file removed since the check above is not created
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	sub, _ := fs.Sub(migrations, "migrations")
	return sqlstore.Open(ctx, db, dialect, sub)
}

// checkCreated returns ErrNotCreated unless path is a database authd migrated, and changes nothing.
func checkCreated(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w at %s", ErrNotCreated, path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var tables int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('goose_db_version', 'signing_keys')`).Scan(&tables)
	if err == nil && tables < 2 {
		err = fmt.Errorf("%w at %s: it has no authd tables", ErrNotCreated, path)
	}
	return err
}
