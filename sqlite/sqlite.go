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
	Name:        "sqlite",
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
}

// Open opens (creating it and its folder if needed) the SQLite database at path, applies the
// embedded migrations and returns the store. The database runs in WAL mode; a busy timeout and
// BEGIN IMMEDIATE transactions make concurrent writers wait rather than fail.
func Open(ctx context.Context, path string, opts ...Options) (*sqlstore.Store, error) {
	sync := "FULL"
	if len(opts) > 0 && strings.EqualFold(opts[0].Synchronous, "normal") {
		sync = "NORMAL"
	}
	if dir := filepath.Dir(path); dir != "" {
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
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	sub, _ := fs.Sub(migrations, "migrations")
	return sqlstore.Open(ctx, db, dialect, sub)
}
