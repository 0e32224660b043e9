package sqlstore

import (
	"context"
	"time"
)

// keepMail is how long a sent or dead email's row is kept, for operators to inspect.
const keepMail = 7 * 24 * time.Hour

// Purge deletes one batch of each kind of row that can no longer matter at now and returns how
// many it deleted: expired refresh tokens and those of revoked sessions, sessions left without
// tokens, codes older than the hourly cap's window, and old sent or dead emails.
func (s *Store) Purge(ctx context.Context, now time.Time, batch int) (int, error) {
	hourAgo := micros(now.Add(-time.Hour))
	steps := []struct {
		query string
		args  []any
	}{
		{"purgeRefresh", []any{micros(now), micros(now), batch}},
		{"purgeSessions", []any{hourAgo, batch}},
		{"purgeCodes", []any{hourAgo, micros(now), batch}},
		{"purgeOutbox", []any{micros(now.Add(-keepMail)), micros(now.Add(-keepMail)), batch}},
	}
	total := 0
	for _, st := range steps {
		n, err := s.exec(ctx, nil, st.query, st.args...)
		if err != nil {
			return total, s.wrap(err)
		}
		total += int(n)
	}
	return total, nil
}
