package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	auth "github.com/authd/authd"
)

// A database made by the previous release keeps its refresh tokens, successors and all, when the
// token table is rebuilt keyed by jti, and gets them back if the migration is rolled back.
func TestRefreshTokenTableRebuildKeepsEveryToken(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authd.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, first_name, last_name, email, email_key, date_joined) VALUES ('u1', 'A', 'B', 'a@x.io', 'a@x.io', 1)`,
		`INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s1', 'u1', 1, 9000000000000000)`,
		`INSERT INTO refresh_tokens (jti, session_id, user_id, key_id, issued_at, expires_at, used_at, successor_jti)
			VALUES ('old', 's1', 'u1', 'k', 1, 9000000000000000, 2, 'new'), ('new', 's1', 'u1', 'k', 2, 9000000000000000, NULL, NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.RefreshState(ctx, "old")
	if err != nil || st.UsedAt.IsZero() || st.Successor == nil || st.Successor.JTI != "new" || st.SuccessorUsed {
		t.Fatalf("used token after the rebuild: %+v, %v", st, err)
	}
	var schema string
	s.DB().QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'refresh_tokens'`).Scan(&schema)
	if !strings.Contains(schema, "WITHOUT ROWID") {
		t.Fatalf("refresh_tokens is not keyed by jti: %s", schema)
	}
	// A token whose sign-in was purged is refused (not found), with no foreign key to stop it.
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM sessions WHERE id = 's1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RefreshState(ctx, "new"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("token of a deleted sign-in: %v, want ErrNotFound", err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s1', 'u1', 1, 9000000000000000)`); err != nil {
		t.Fatal(err)
	}

	p, err = goose.NewProvider(goose.DialectSQLite3, s.DB(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var n int
	s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens WHERE session_id = 's1'`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d tokens after rolling back, want 2", n)
	}
	s.DB().QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'refresh_tokens'`).Scan(&schema)
	if strings.Contains(schema, "WITHOUT ROWID") || !strings.Contains(schema, "ON DELETE CASCADE") {
		t.Fatalf("rolled back schema: %s", schema)
	}
}
