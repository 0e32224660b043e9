package sqlstore

import (
	"context"
	"database/sql"
	"time"

	auth "github.com/authd/authd"
)

// insertCode stores a code, which replaces the older codes of its email key.
func (s *Store) insertCode(ctx context.Context, tx *sql.Tx, c auth.ResetCode) error {
	user := sql.NullString{String: c.UserID, Valid: c.UserID != ""}
	if _, err := s.exec(ctx, tx, "insertCode", c.ID, c.EmailKey, user, c.Hash, micros(c.CreatedAt), micros(c.ExpiresAt)); err != nil {
		return err
	}
	return s.stopReplacedCodeMail(ctx, tx, c)
}

// AddResetCode stores a code and its email unless the hourly cap is reached.
func (s *Store) AddResetCode(ctx context.Context, c auth.ResetCode, mail *auth.Outgoing, limit int, since time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.LockEmail != "" {
			if _, err := tx.ExecContext(ctx, s.rebind(s.d.LockEmail), c.EmailKey); err != nil {
				return err
			}
		}
		if limit > 0 {
			var n int
			var oldest int64
			if err := s.row(ctx, tx, "countCodes", c.EmailKey, micros(since)).Scan(&n, &oldest); err != nil {
				return err
			}
			if n >= limit {
				return &auth.ThrottledError{RetryAfter: fromMicros(oldest).Sub(since)}
			}
		}
		if err := s.insertCode(ctx, tx, c); err != nil {
			return err
		}
		return s.insertOutbox(ctx, tx, mail)
	})
}

// stopReplacedCodeMail stops the unsent emails of the codes c replaces.
func (s *Store) stopReplacedCodeMail(ctx context.Context, tx *sql.Tx, c auth.ResetCode) error {
	_, err := s.exec(ctx, tx, "stopReplacedCodeMail", micros(c.CreatedAt), []byte{}, c.EmailKey, c.ID)
	return err
}

// ClaimResetCode counts an attempt against the newest live code of the email and returns it.
func (s *Store) ClaimResetCode(ctx context.Context, emailKey string, now time.Time, maxAttempts int) (auth.ResetCode, error) {
	var c auth.ResetCode
	var created, expires int64
	err := s.row(ctx, nil, "claimCode", emailKey, micros(now), maxAttempts).
		Scan(&c.ID, &c.EmailKey, &c.UserID, &c.Hash, &created, &expires)
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	return c, s.wrap(err)
}

// RefundResetAttempt gives back one counted attempt.
func (s *Store) RefundResetAttempt(ctx context.Context, codeID string) error {
	_, err := s.exec(ctx, nil, "refundCode", codeID)
	return s.wrap(err)
}

// ResetPassword uses the code and applies the change, in one transaction.
func (s *Store) ResetPassword(ctx context.Context, codeID string, change auth.AccountChange) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "useCode", micros(change.At), codeID)
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrNotFound
		}
		return s.applyChange(ctx, tx, change)
	})
}
