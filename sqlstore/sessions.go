package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

// sessionExpirySlack is how far past its newest token's expiry a sign-in's is set when moved.
const sessionExpirySlack = time.Hour

// CreateSession stores a sign-in and its first refresh token in one transaction, if the user is
// active and its credentials are still those the sign-in checked; otherwise auth.ErrConflict.
// Where the dialect has it as one statement (PostgreSQL) and there is no audit row to write
// with it, that runs alone: one round trip.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, first auth.RefreshToken, audit ...auth.AuditEvent) error {
	if _, ok := s.stmt["createSession"]; ok && len(audit) == 0 {
		return s.wrap(s.createSession(ctx, nil, sess, first))
	}
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error { return s.createSession(ctx, tx, sess, first) })
}

// createSession stores the sign-in and its first token in tx (nil only with the one statement),
// as one statement where the dialect has it.
func (s *Store) createSession(ctx context.Context, tx *sql.Tx, sess auth.Session, first auth.RefreshToken) error {
	if _, ok := s.stmt["createSession"]; ok {
		n, err := s.exec(ctx, tx, "createSession", sess.ID, micros(sess.CreatedAt), micros(first.ExpiresAt),
			strings.Join(sess.AMR, ","), sess.IP, sess.UserAgent, sess.UserID, micros(sess.PasswordChangedAt),
			first.JTI, first.SessionID, first.UserID, first.KeyID, micros(first.IssuedAt), micros(first.ExpiresAt))
		if err == nil && n == 0 {
			err = auth.ErrConflict
		}
		return err
	}
	n, err := s.exec(ctx, tx, "insertSession", sess.ID, micros(sess.CreatedAt), micros(first.ExpiresAt), micros(first.ExpiresAt),
		strings.Join(sess.AMR, ","), sess.IP, sess.UserAgent, sess.UserID, micros(sess.PasswordChangedAt))
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrConflict
	}
	return s.insertRefresh(ctx, tx, first)
}

func (s *Store) insertRefresh(ctx context.Context, tx *sql.Tx, t auth.RefreshToken) error {
	_, err := s.exec(ctx, tx, "insertRefresh", t.JTI, t.SessionID, t.UserID, t.KeyID, micros(t.IssuedAt), micros(t.ExpiresAt))
	return err
}

// RefreshState returns a refresh token with its session, user and successor, or auth.ErrNotFound.
func (s *Store) RefreshState(ctx context.Context, jti string) (auth.RefreshState, error) {
	var st auth.RefreshState
	var issued, expires, sessCreated, changed int64
	var used, sessRevoked sql.NullInt64
	var nJTI, nKey sql.NullString
	var nIssued, nExpires, nUsed sql.NullInt64
	var active int
	var amr string
	err := s.row(ctx, nil, "refreshState", jti).Scan(
		&st.Token.JTI, &st.Token.SessionID, &st.Token.UserID, &st.Token.KeyID, &issued, &expires, &used,
		&nJTI, &nKey, &nIssued, &nExpires, &nUsed,
		&sessCreated, &sessRevoked, &amr, &active, &changed)
	if err != nil {
		return st, s.wrap(err)
	}
	st.Token.IssuedAt, st.Token.ExpiresAt, st.UsedAt = fromMicros(issued), fromMicros(expires), fromNullMicros(used)
	if nJTI.Valid {
		st.Successor = &auth.RefreshToken{JTI: nJTI.String, SessionID: st.Token.SessionID, UserID: st.Token.UserID,
			KeyID: nKey.String, IssuedAt: fromNullMicros(nIssued), ExpiresAt: fromNullMicros(nExpires)}
		st.SuccessorUsed = nUsed.Valid
	}
	st.SessionCreated, st.SessionRevoked, st.SessionAMR = fromMicros(sessCreated), sessRevoked.Valid, splitAMR(amr)
	st.UserActive, st.PasswordChangedAt = active != 0, fromMicros(changed)
	return st, nil
}

// RotateRefresh uses jti and stores next as its successor, or returns auth.ErrConflict when
// jti was already used or its session revoked. With group commit (SQLite), it shares a
// transaction with the rotations queued at the same time. Where the dialect has the rotation as
// one statement (PostgreSQL), it runs as that alone, outside a transaction: one round trip.
func (s *Store) RotateRefresh(ctx context.Context, jti string, next auth.RefreshToken, now time.Time) error {
	if s.rotations != nil {
		return s.queueRotation(ctx, jti, next, now)
	}
	if _, ok := s.stmt["rotateRefresh"]; ok {
		n, err := s.exec(ctx, nil, "rotateRefresh", micros(now), next.JTI, jti, next.SessionID, next.UserID, next.KeyID,
			micros(next.IssuedAt), micros(next.ExpiresAt), micros(next.ExpiresAt.Add(sessionExpirySlack)))
		if err == nil && n == 0 {
			err = auth.ErrConflict
		}
		return s.wrap(err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.rotate(ctx, tx, jti, next, now) })
}

// rotate is one rotation inside tx: a conditional write only one request can win.
func (s *Store) rotate(ctx context.Context, tx *sql.Tx, jti string, next auth.RefreshToken, now time.Time) error {
	n, err := s.exec(ctx, tx, "useRefresh", micros(now), next.JTI, jti)
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrConflict
	}
	// The sign-in records its last refresh. The purge needs it to outlive its newest token, no
	// more: its expiry moves a slack past that token's, when the token would outlive it.
	if _, err := s.exec(ctx, tx, "touchSession", micros(now), micros(next.ExpiresAt), micros(next.ExpiresAt), micros(next.ExpiresAt.Add(sessionExpirySlack)), next.SessionID); err != nil {
		return err
	}
	return s.insertRefresh(ctx, tx, next)
}

func splitAMR(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// RevokeSession revokes a sign-in.
func (s *Store) RevokeSession(ctx context.Context, sessionID string, now time.Time, audit ...auth.AuditEvent) error {
	return s.audited(ctx, audit, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, "revokeSession", micros(now), sessionID)
		return err
	})
}

// UserSessions returns the user's live sign-ins, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string, now time.Time) ([]auth.SessionInfo, error) {
	rows, err := s.stmt["userSessions"].QueryContext(ctx, userID, micros(now))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	list := []auth.SessionInfo{}
	for rows.Next() {
		var si auth.SessionInfo
		var created, expires int64
		var used sql.NullInt64
		var amr string
		if err := rows.Scan(&si.ID, &created, &used, &expires, &si.IP, &si.UserAgent, &amr); err != nil {
			return nil, s.wrap(err)
		}
		si.CreatedAt, si.LastUsedAt, si.ExpiresAt, si.AMR = fromMicros(created), fromNullMicros(used), fromMicros(expires), splitAMR(amr)
		list = append(list, si)
	}
	return list, s.wrap(rows.Err())
}

// RevokeUserSession revokes the sign-in if it is a live one of the user.
func (s *Store) RevokeUserSession(ctx context.Context, userID, sessionID string, now time.Time, audit ...auth.AuditEvent) error {
	return s.audited(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "revokeUserSession", micros(now), sessionID, userID, micros(now))
		if err == nil && n == 0 {
			err = auth.ErrNotFound
		}
		return err
	})
}
