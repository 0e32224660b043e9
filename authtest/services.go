package authtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresURL returns a URL of the database named by AUTH_TEST_POSTGRES_URL whose search_path
// is a new schema of this test's own, dropped when the test ends, so tests never see each
// other's rows. Without the variable the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("AUTH_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("PostgreSQL run skipped: set AUTH_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL returns AUTH_TEST_REDIS_URL, or skips the test without it.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AUTH_TEST_REDIS_URL")
	if u == "" {
		t.Skip("Redis run skipped: set AUTH_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}
