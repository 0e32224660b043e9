package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	auth "github.com/authd/authd"
)

// UserByLegacyID returns the imported user whose primary key in the original was legacyID, or
// auth.ErrNotFound.
func (s *Store) UserByLegacyID(ctx context.Context, legacyID string) (auth.User, error) {
	u, err := scanUser(s.row(ctx, nil, "userByLegacyID", legacyID))
	return u, s.wrap(err)
}

// LegacyRefreshState returns what is known of the original's refresh token, in one read; a token
// never recorded has the zero state.
func (s *Store) LegacyRefreshState(ctx context.Context, jti string) (auth.LegacyRefreshState, error) {
	var st auth.LegacyRefreshState
	var used sql.NullInt64
	var nJTI, nSession, nUser, nKey, sessID sql.NullString
	var nIssued, nExpires, nUsed, revoked sql.NullInt64
	err := s.row(ctx, nil, "legacyRefreshState", jti).Scan(&st.LegacyUserID, &used, &st.SessionID,
		&nJTI, &nSession, &nUser, &nKey, &nIssued, &nExpires, &nUsed, &sessID, &revoked, &st.Blacklisted)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.LegacyRefreshState{}, nil
	}
	if err != nil {
		return st, s.wrap(err)
	}
	st.Recorded, st.UsedAt = true, fromNullMicros(used)
	if nJTI.Valid {
		st.Successor = &auth.RefreshToken{JTI: nJTI.String, SessionID: nSession.String, UserID: nUser.String, KeyID: nKey.String,
			IssuedAt: fromNullMicros(nIssued), ExpiresAt: fromNullMicros(nExpires)}
		st.SuccessorUsed = nUsed.Valid
	}
	// A sign-in purged away is as over as a revoked one.
	st.SessionRevoked = st.SessionID != "" && (!sessID.Valid || revoked.Valid)
	return st, nil
}

// UseLegacyRefresh records the token's use and stores the sign-in it became, in one transaction:
// the conditional upsert first, so that of racing uses one wins and the others (waiting on its
// row) see it used and return auth.ErrConflict.
func (s *Store) UseLegacyRefresh(ctx context.Context, use auth.LegacyUse, sess auth.Session, first auth.RefreshToken, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		if err := s.useLegacy(ctx, tx, use, sql.NullString{String: sess.ID, Valid: true}, sql.NullString{String: first.JTI, Valid: true}); err != nil {
			return err
		}
		return s.createSession(ctx, tx, sess, first)
	})
}

// RevokeLegacyRefresh records the token used, with no sign-in, or returns auth.ErrConflict.
func (s *Store) RevokeLegacyRefresh(ctx context.Context, use auth.LegacyUse, audit ...auth.AuditEvent) error {
	return s.audited(ctx, audit, func(tx *sql.Tx) error { return s.useLegacy(ctx, tx, use, sql.NullString{}, sql.NullString{}) })
}

func (s *Store) useLegacy(ctx context.Context, tx *sql.Tx, use auth.LegacyUse, sessionID, successor sql.NullString) error {
	n, err := s.exec(ctx, tx, "useLegacyRefresh", use.JTI, use.LegacyUserID, micros(use.ExpiresAt), micros(use.UsedAt), sessionID, successor)
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrConflict
	}
	return nil
}
