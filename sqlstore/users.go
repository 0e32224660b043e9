package sqlstore

import (
	"context"
	"database/sql"

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
	phone := sql.NullString{String: u.Phone, Valid: u.Phone != ""}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "insertUser", u.ID, u.FirstName, u.LastName, u.Address, u.Email,
			auth.EmailKey(u.Email), phone, boolInt(u.EmailVerified), boolInt(u.Active), micros(u.DateJoined),
			u.PasswordHash, micros(u.PasswordChangedAt)); err != nil {
			return err
		}
		if code != nil {
			if err := s.insertCode(ctx, tx, *code); err != nil {
				return err
			}
		}
		return s.insertOutbox(ctx, tx, mail)
	})
	switch s.d.UniqueViolation(err) {
	case "email_key":
		return auth.ValidationError{"email": {auth.MsgEmailTaken}}
	case "phone":
		return auth.ValidationError{"phone_no": {auth.MsgPhoneTaken}}
	}
	return err
}

// UserByEmailKey returns the user with that email key, or auth.ErrNotFound.
func (s *Store) UserByEmailKey(ctx context.Context, emailKey string) (auth.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q["userByEmailKey"], emailKey))
	return u, s.wrap(err)
}

// UserByID returns the user, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (auth.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q["userByID"], id))
	return u, s.wrap(err)
}

// PhoneTaken reports whether an account has that phone number.
func (s *Store) PhoneTaken(ctx context.Context, phone string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q["phoneTaken"], phone).Scan(&n)
	return n > 0, s.wrap(err)
}

// ReplacePasswordHash swaps the user's hash only if it is still old.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID, old, new string) error {
	_, err := s.exec(ctx, s.db, "replaceHash", new, userID, old)
	return s.wrap(err)
}
