package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

// StartTOTP stores an enrolment, replacing an unconfirmed one; auth.ErrConflict when the user
// has two-factor sign-in on.
func (s *Store) StartTOTP(ctx context.Context, t auth.TOTP) error {
	n, err := s.exec(ctx, nil, "startTOTP", t.UserID, t.Secret, micros(t.CreatedAt))
	if err == nil && n == 0 {
		err = auth.ErrConflict
	}
	return s.wrap(err)
}

// TOTP returns the user's authenticator or enrolment, or auth.ErrNotFound.
func (s *Store) TOTP(ctx context.Context, userID string) (auth.TOTP, error) {
	t := auth.TOTP{UserID: userID}
	var created int64
	var confirmed sql.NullInt64
	err := s.row(ctx, nil, "totp", userID).Scan(&t.Secret, &created, &confirmed, &t.LastStep)
	t.CreatedAt, t.ConfirmedAt = fromMicros(created), fromNullMicros(confirmed)
	return t, s.wrap(err)
}

// ConfirmTOTP turns the enrolment on, taking step, and stores the recovery codes, in one
// transaction; auth.ErrConflict when it is on already or step is not newer than the last used.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, recovery [][]byte, at time.Time, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "confirmTOTP", micros(at), step, userID, step)
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrConflict
		}
		return s.replaceRecoveryCodes(ctx, tx, userID, recovery)
	})
}

// UseTOTPStep records step as used, if it is newer than the last; otherwise auth.ErrConflict.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	n, err := s.exec(ctx, nil, "useTOTPStep", step, userID, step)
	if err == nil && n == 0 {
		err = auth.ErrConflict
	}
	return s.wrap(err)
}

// UseRecoveryCode uses up the user's unused recovery code with that digest, or returns
// auth.ErrNotFound.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	n, err := s.exec(ctx, nil, "useRecoveryCode", micros(at), userID, hash)
	if err == nil && n == 0 {
		err = auth.ErrNotFound
	}
	return s.wrap(err)
}

// ReplaceRecoveryCodes replaces every recovery code of the user, in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.replaceRecoveryCodes(ctx, tx, userID, hashes) })
}

func (s *Store) replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, hashes [][]byte) error {
	if _, err := s.exec(ctx, tx, "deleteRecoveryCodes", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := s.exec(ctx, tx, "insertRecoveryCode", userID, h); err != nil {
			return err
		}
	}
	return nil
}

// DeleteTOTP turns two-factor sign-in off: the authenticator, its recovery codes and its
// waiting sign-ins go, in one transaction.
func (s *Store) DeleteTOTP(ctx context.Context, userID string, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		for _, q := range []string{"deleteTOTP", "deleteRecoveryCodes", "deleteUserChallenges"} {
			if _, err := s.exec(ctx, tx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateMFAChallenge stores a sign-in waiting for its second factor.
func (s *Store) CreateMFAChallenge(ctx context.Context, ch auth.MFAChallenge) error {
	_, err := s.exec(ctx, nil, "insertChallenge", ch.TokenHash, ch.UserID, strings.Join(ch.AMR, ","), micros(ch.CreatedAt),
		micros(ch.ExpiresAt), micros(ch.PasswordChangedAt))
	return s.wrap(err)
}

// ClaimMFAChallenge counts one attempt against the challenge and returns it, if it is unused,
// unexpired at now and had fewer than maxAttempts; otherwise auth.ErrNotFound.
func (s *Store) ClaimMFAChallenge(ctx context.Context, tokenHash []byte, now time.Time, maxAttempts int) (auth.MFAChallenge, error) {
	ch := auth.MFAChallenge{TokenHash: tokenHash}
	var amr string
	var created, expires, changed int64
	err := s.row(ctx, nil, "claimChallenge", tokenHash, micros(now), maxAttempts).Scan(&ch.UserID, &amr, &created, &expires, &changed)
	ch.AMR, ch.CreatedAt, ch.ExpiresAt, ch.PasswordChangedAt = splitAMR(amr), fromMicros(created), fromMicros(expires), fromMicros(changed)
	return ch, s.wrap(err)
}

// FinishMFAChallenge uses the challenge up and stores the sign-in it becomes, in one
// transaction; auth.ErrConflict when it was used meanwhile or the user's credentials changed.
func (s *Store) FinishMFAChallenge(ctx context.Context, tokenHash []byte, now time.Time, sess auth.Session, first auth.RefreshToken, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "useChallenge", micros(now), tokenHash)
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrConflict
		}
		return s.createSession(ctx, tx, sess, first)
	})
}
