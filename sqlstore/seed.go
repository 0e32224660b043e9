package sqlstore

import (
	"context"
	"fmt"
	"io"
	"time"
)

// seedChunk rows go in per statement, so no transaction (or SQLite WAL) grows huge.
const seedChunk = 250_000

// Seed fills the store with synthetic load-test data, generated inside the database: users
// accounts (no usable password) and tokens refresh tokens spread over tokens/10 sign-ins, live
// for a year. It is for measuring that costs do not grow with the data (authd bench seed), never
// for a production database: the rows are marked with ids starting "seed-".
//
// It stays in the store, not in bench/, though only the load tool uses it: it writes the
// store's tables directly, in the store's encodings (times in microseconds, the dialect's
// placeholders), and the store is the one place that knows them; the store contract test runs
// it against each migrated schema, so a migration that breaks it fails there.
func (s *Store) Seed(ctx context.Context, users, tokens int, progress io.Writer) error {
	sessions := max(1, tokens/10)
	expires := time.Now().Add(365 * 24 * time.Hour).UnixMicro()
	steps := []struct {
		what  string
		count int
		sql   string
		args  func(from, to int) []any
	}{
		{"users", users, `INSERT INTO users (id, first_name, last_name, address, email, email_key, email_verified, is_active, date_joined, password_hash, password_changed_at)
			SELECT 'seed-u' || i, 'Seed', 'User', '', 'seed' || i || '@seed.invalid', 'seed' || i || '@seed.invalid', 0, 1, 0, '', 0 FROM n`,
			func(from, to int) []any { return []any{from, to} }},
		{"sign-ins", sessions, `INSERT INTO sessions (id, user_id, created_at, expires_at) SELECT 'seed-s' || i, 'seed-u' || (i % ?), 0, ? FROM n`,
			func(from, to int) []any { return []any{from, to, users, expires} }},
		{"refresh tokens", tokens, `INSERT INTO refresh_tokens (jti, session_id, user_id, key_id, issued_at, expires_at, used_at)
			SELECT 'seed-t' || i, 'seed-s' || (i % ?), 'seed-u' || ((i % ?) % ?), 'seed', 0, ?, CASE WHEN i % 10 = 0 THEN NULL ELSE 1 END FROM n`,
			func(from, to int) []any { return []any{from, to, sessions, sessions, users, expires} }},
	}
	for _, st := range steps {
		q := s.rebind(`WITH RECURSIVE n(i) AS (SELECT CAST(? AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < ?) ` + st.sql)
		for from := 0; from < st.count; from += seedChunk {
			to := min(st.count, from+seedChunk) - 1
			if _, err := s.db.ExecContext(ctx, q, st.args(from, to)...); err != nil {
				return fmt.Errorf("seed %s: %w", st.what, err)
			}
			if progress != nil {
				fmt.Fprintf(progress, "seeded %d of %d %s\n", to+1, st.count, st.what)
			}
		}
	}
	return nil
}
