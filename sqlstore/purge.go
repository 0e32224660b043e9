package sqlstore

import (
	"context"
	"time"
)

// keepMail is how long a sent or dead email's row is kept, for operators to inspect.
const keepMail = 7 * 24 * time.Hour

// Purge deletes one batch of each kind of row that can no longer matter at now and returns how
// many it deleted: sign-ins that were revoked or whose newest token expired, expired tokens,
// codes older than the hourly cap's window (by then long expired), sent or dead emails kept a
// week for inspection, limiter windows that have ended, and audit events older than keepAudit
// (0 keeps them). On PostgreSQL a sign-in's tokens go
// with it (ON DELETE CASCADE); on SQLite they stay, refused for want of their sign-in, until they
// expire (see its migration 00005).
func (s *Store) Purge(ctx context.Context, now time.Time, batch int, keepAudit time.Duration) (int, error) {
	mailCutoff := micros(now.Add(-keepMail))
	steps := []struct {
		query string
		args  []any
	}{
		{"purgeRevokedSessions", []any{batch}},
		{"purgeExpiredSessions", []any{micros(now), batch}},
		{"purgeRefresh", []any{micros(now), batch}},
		{"purgeCodes", []any{micros(now.Add(-time.Hour)), batch}},
		{"purgeSentMail", []any{mailCutoff, batch}},
		{"purgeDeadMail", []any{mailCutoff, batch}},
		{"purgeLimits", []any{micros(now), batch, micros(now)}},
		{"purgeChallenges", []any{micros(now), batch}},
	}
	if keepAudit > 0 {
		steps = append(steps, struct {
			query string
			args  []any
		}{"purgeAudit", []any{micros(now.Add(-keepAudit)), batch}})
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
