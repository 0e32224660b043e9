package sqlstore

import (
	"context"
	"database/sql"
	"time"

	auth "github.com/authd/authd"
)

type scanner interface{ Scan(...any) error }

func scanUser(row scanner) (auth.User, error) {
	var u auth.User
	var verified, active int
	var joined, changed int64
	err := row.Scan(&u.ID, &u.FirstName, &u.LastName, &u.Address, &u.Email, &u.Phone, &verified, &active,
		&joined, &u.PasswordHash, &changed)
	u.EmailVerified, u.Active = verified != 0, active != 0
	u.DateJoined, u.PasswordChangedAt = fromMicros(joined), fromMicros(changed)
	return u, err
}

// CreateUser inserts u with an optional reset code and email, in one transaction. A duplicate
// email or phone is an auth.ValidationError with the contract's message.
func (s *Store) CreateUser(ctx context.Context, u auth.User, code *auth.ResetCode, mail *auth.Outgoing) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		if code != nil {
			if err := s.insertCode(ctx, tx, *code); err != nil {
				return err
			}
		}
		return s.insertOutbox(ctx, tx, mail)
	})
	return s.userConflict(err)
}

// userConflict turns a violated unique constraint on users into the contract's field error.
func (s *Store) userConflict(err error) error {
	switch s.d.UniqueViolation(err) {
	case "users.email_key":
		return auth.ValidationError{"email": {auth.MsgEmailTaken}}
	case "users.phone":
		return auth.ValidationError{"phone_no": {auth.MsgPhoneTaken}}
	case "social_accounts.provider":
		return auth.ErrConflict
	}
	return err
}

func (s *Store) insertUser(ctx context.Context, tx *sql.Tx, u auth.User) error {
	phone := sql.NullString{String: u.Phone, Valid: u.Phone != ""}
	_, err := s.exec(ctx, tx, "insertUser", u.ID, u.FirstName, u.LastName, u.Address, u.Email,
		auth.EmailKey(u.Email), phone, boolInt(u.EmailVerified), boolInt(u.Active), micros(u.DateJoined),
		u.PasswordHash, micros(u.PasswordChangedAt))
	return err
}

// UserBySocial returns the user linked to a provider's subject, or auth.ErrNotFound.
func (s *Store) UserBySocial(ctx context.Context, provider, subject string) (auth.User, error) {
	u, err := scanUser(s.row(ctx, nil, "userBySocial", provider, subject))
	return u, s.wrap(err)
}

// CreateSocialUser inserts u and its link to the provider's subject, in one transaction.
func (s *Store) CreateSocialUser(ctx context.Context, u auth.User, provider, subject string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "insertSocial", provider, subject, u.ID, micros(u.DateJoined))
		return err
	})
	return s.userConflict(err)
}

// LinkSocial links a subject to an existing user; with dropPassword it also removes the user's
// password and revokes every session, in the same transaction.
func (s *Store) LinkSocial(ctx context.Context, userID, provider, subject string, dropPassword bool, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "insertSocial", provider, subject, userID, micros(now)); err != nil {
			return err
		}
		if !dropPassword {
			_, err := s.exec(ctx, tx, "verifyEmail", userID)
			return err
		}
		if _, err := s.exec(ctx, tx, "dropPassword", micros(now), userID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "revokeUserSessions", micros(now), userID)
		return err
	})
	return s.userConflict(err)
}

// UserByEmailKey returns the user with that email key, or auth.ErrNotFound.
func (s *Store) UserByEmailKey(ctx context.Context, emailKey string) (auth.User, error) {
	u, err := scanUser(s.row(ctx, nil, "userByEmailKey", emailKey))
	return u, s.wrap(err)
}

// UserByID returns the user, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (auth.User, error) {
	u, err := scanUser(s.row(ctx, nil, "userByID", id))
	return u, s.wrap(err)
}

// UserStanding returns whether the user is active and when their password last changed.
func (s *Store) UserStanding(ctx context.Context, id string) (auth.Standing, error) {
	var active int
	var changed int64
	err := s.row(ctx, nil, "userStanding", id).Scan(&active, &changed)
	return auth.Standing{Active: active != 0, PasswordChangedAt: fromMicros(changed)}, s.wrap(err)
}

// PhoneTaken reports whether an account has that phone number.
func (s *Store) PhoneTaken(ctx context.Context, phone string) (bool, error) {
	var n int
	err := s.row(ctx, nil, "phoneTaken", phone).Scan(&n)
	return n > 0, s.wrap(err)
}

// ReplacePasswordHash swaps the user's hash only if it is still old.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID, old, new string) error {
	_, err := s.exec(ctx, nil, "replaceHash", new, userID, old)
	return s.wrap(err)
}
