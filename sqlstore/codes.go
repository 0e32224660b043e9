package sqlstore

import (
	"context"
	"database/sql"
	"time"

	auth "github.com/authd/authd"
)

// insertCode stores a code, which replaces the older codes of its email key.
func (s *Store) insertCode(ctx context.Context, tx *sql.Tx, c auth.Code) error {
	user := sql.NullString{String: c.UserID, Valid: c.UserID != ""}
	if _, err := s.exec(ctx, tx, "insertCode", c.ID, c.Purpose, c.EmailKey, user, c.NewEmail, boolInt(c.ByRegistration), c.Hash, micros(c.CreatedAt), micros(c.ExpiresAt)); err != nil {
		return err
	}
	return s.stopReplacedCodeMail(ctx, tx, c)
}

// AddCode stores a code and its email unless the hourly cap is reached.
func (s *Store) AddCode(ctx context.Context, c auth.Code, mail *auth.Outgoing, limit int, since time.Time, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		if s.d.LockEmail != "" {
			if _, err := tx.ExecContext(ctx, s.rebind(s.d.LockEmail), c.EmailKey); err != nil {
				return err
			}
		}
		if limit > 0 {
			if err := s.underCodeCap(ctx, tx, "countCodes", limit, since, c.EmailKey, c.Purpose); err != nil {
				return err
			}
			if c.ByUser() {
				if err := s.underCodeCap(ctx, tx, "countUserCodes", limit, since, c.UserID, c.Purpose); err != nil {
					return err
				}
			}
		}
		if err := s.insertCode(ctx, tx, c); err != nil {
			return err
		}
		return s.insertOutbox(ctx, tx, mail)
	})
}

// underCodeCap returns a *auth.ThrottledError when the named count of codes made since since
// has reached limit.
func (s *Store) underCodeCap(ctx context.Context, tx *sql.Tx, count string, limit int, since time.Time, args ...any) error {
	var n int
	var oldest int64
	if err := s.row(ctx, tx, count, append(args, micros(since))...).Scan(&n, &oldest); err != nil {
		return err
	}
	if n >= limit {
		return &auth.ThrottledError{RetryAfter: fromMicros(oldest).Sub(since)}
	}
	return nil
}

// stopReplacedCodeMail stops the unsent emails of the codes c replaces: the older ones of its
// purpose and owner.
func (s *Store) stopReplacedCodeMail(ctx context.Context, tx *sql.Tx, c auth.Code) error {
	query, owner := "stopReplacedCodeMail", c.EmailKey
	if c.ByUser() {
		query, owner = "stopReplacedUserCodeMail", c.UserID
	}
	_, err := s.exec(ctx, tx, query, micros(c.CreatedAt), []byte{}, owner, c.Purpose, c.ID)
	return err
}

// ClaimCode counts an attempt against the owner's newest live code and returns it.
func (s *Store) ClaimCode(ctx context.Context, owner auth.CodeOwner, now time.Time, maxAttempts int) (auth.Code, error) {
	query, key := "claimCode", owner.EmailKey
	if (auth.Code{Purpose: owner.Purpose}).ByUser() {
		query, key = "claimUserCode", owner.UserID
	}
	var c auth.Code
	var created, expires int64
	err := s.row(ctx, nil, query, key, owner.Purpose, micros(now), maxAttempts).
		Scan(&c.ID, &c.Purpose, &c.EmailKey, &c.UserID, &c.NewEmail, &c.Hash, &created, &expires)
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	return c, s.wrap(err)
}

// RefundCodeAttempt gives back one counted attempt.
func (s *Store) RefundCodeAttempt(ctx context.Context, codeID string) error {
	_, err := s.exec(ctx, nil, "refundCode", codeID)
	return s.wrap(err)
}

// UseCode uses the code and applies the change, in one transaction.
func (s *Store) UseCode(ctx context.Context, codeID string, change auth.AccountChange) error {
	return s.userConflict(s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "useCode", micros(change.At), codeID)
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrNotFound
		}
		return s.applyChange(ctx, tx, change)
	}))
}
