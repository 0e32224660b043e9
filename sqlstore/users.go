package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	auth "github.com/authd/authd"
)

type scanner interface{ Scan(...any) error }

func scanUser(row scanner) (auth.User, error) { return scanUserAnd(row) }

// scanUserAnd scans userColumns into a User, then the columns after them into extra.
func scanUserAnd(row scanner, extra ...any) (auth.User, error) {
	var u auth.User
	var verified, active, totp int
	var joined, changed, revoked int64
	err := row.Scan(append([]any{&u.ID, &u.FirstName, &u.LastName, &u.Address, &u.Email, &u.Phone, &verified, &active,
		&joined, &u.PasswordHash, &changed, &totp, &revoked}, extra...)...)
	u.EmailVerified, u.Active, u.TOTPEnabled = verified != 0, active != 0, totp != 0
	u.DateJoined, u.PasswordChangedAt, u.SessionsRevokedAt = fromMicros(joined), fromMicros(changed), fromMicros(revoked)
	return u, err
}

// providers reads the comma-joined providers of a user's links, sorted, once each.
func providers(joined string) []string {
	list := []string{}
	if joined != "" {
		list = strings.Split(joined, ",")
		slices.Sort(list)
		list = slices.Compact(list)
	}
	return list
}

// CreateUser inserts u with an optional reset code and email, in one transaction. A duplicate
// email or phone is auth.ErrEmailTaken or auth.ErrPhoneTaken.
func (s *Store) CreateUser(ctx context.Context, u auth.User, code *auth.Code, mail *auth.Outgoing, audit ...auth.AuditEvent) error {
	err := s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
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

// userConflict turns a violated unique constraint into the fact it reports.
func (s *Store) userConflict(err error) error {
	switch s.d.UniqueViolation(err) {
	case "users.email_key":
		return auth.ErrEmailTaken
	case "users.phone":
		return auth.ErrPhoneTaken
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

// SocialLinks returns the identities linked to the user, oldest first.
func (s *Store) SocialLinks(ctx context.Context, userID string) ([]auth.SocialLink, error) {
	rows, err := s.stmt["socialLinks"].QueryContext(ctx, userID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var links []auth.SocialLink
	for rows.Next() {
		var l auth.SocialLink
		var verified int
		var at int64
		if err := rows.Scan(&l.Provider, &l.Subject, &verified, &at); err != nil {
			return nil, s.wrap(err)
		}
		l.EmailVerified, l.At = verified != 0, fromMicros(at)
		links = append(links, l)
	}
	return links, s.wrap(rows.Err())
}

// CreateSocialUser inserts u and its link to the provider's identity, in one transaction.
func (s *Store) CreateSocialUser(ctx context.Context, u auth.User, link auth.SocialLink, audit ...auth.AuditEvent) error {
	err := s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		return s.insertSocial(ctx, tx, u.ID, link)
	})
	return s.userConflict(err)
}

// LinkSocial links an identity to an existing user and applies change, in one transaction.
func (s *Store) LinkSocial(ctx context.Context, link auth.SocialLink, change auth.AccountChange) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The change first: dropping unproven identities must not drop the one being linked.
		if err := s.applyChange(ctx, tx, change); err != nil {
			return err
		}
		return s.insertSocial(ctx, tx, change.UserID, link)
	})
	return s.userConflict(err)
}

func (s *Store) insertSocial(ctx context.Context, tx *sql.Tx, userID string, link auth.SocialLink) error {
	_, err := s.exec(ctx, tx, "insertSocial", link.Provider, link.Subject, userID, micros(link.At), boolInt(link.EmailVerified))
	return err
}

// applyChange applies an account change inside tx, in the order its fields are listed: the
// condition first, the new sign-in after the revocation it must survive.
func (s *Store) applyChange(ctx context.Context, tx *sql.Tx, c auth.AccountChange) error {
	if c.IfPasswordChangedAt != nil {
		// An UPDATE, not a SELECT: it locks the row on PostgreSQL, so of two changes made from the
		// same reading the second waits, then finds the condition gone.
		n, err := s.exec(ctx, tx, "lockCredentials", c.UserID, micros(*c.IfPasswordChangedAt))
		if err != nil {
			return err
		}
		if n == 0 {
			return auth.ErrConflict
		}
	}
	type step struct {
		on    bool
		query string
		args  []any
	}
	for _, st := range []step{
		{c.SetPassword, "setPassword", []any{c.PasswordHash, micros(c.At), c.UserID}},
		{c.SetEmail != "", "setEmail", []any{c.SetEmail, auth.EmailKey(c.SetEmail), c.UserID}},
		{c.VerifyEmail, "verifyEmail", []any{c.UserID}},
		{c.DropUnprovenSocial, "dropUnprovenSocial", []any{c.UserID}},
		{c.RevokeSessions, "revokeUserSessions", []any{micros(c.At), c.UserID}},
		{c.RevokeSessions, "markSessionsRevoked", []any{micros(c.At), c.UserID}},
		{c.CancelCodes, "cancelUserCodes", []any{micros(c.At), c.UserID}},
	} {
		if !st.on {
			continue
		}
		if _, err := s.exec(ctx, tx, st.query, st.args...); err != nil {
			return err
		}
	}
	if c.StartSession != nil {
		if err := s.createSession(ctx, tx, c.StartSession.Session, c.StartSession.First); err != nil {
			return err
		}
	}
	if err := s.insertOutbox(ctx, tx, c.Mail); err != nil {
		return err
	}
	return s.insertAudit(ctx, tx, c.Audit)
}

// ChangeAccount applies change in one transaction.
func (s *Store) ChangeAccount(ctx context.Context, change auth.AccountChange) error {
	return s.userConflict(s.inTx(ctx, func(tx *sql.Tx) error { return s.applyChange(ctx, tx, change) }))
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

// SessionStanding returns the sign-in's user, whether it is revoked and whether its user is
// active.
func (s *Store) SessionStanding(ctx context.Context, sessionID string) (auth.SessionStanding, error) {
	var st auth.SessionStanding
	var revoked sql.NullInt64
	var active int
	err := s.row(ctx, nil, "sessionStanding", sessionID).Scan(&st.UserID, &revoked, &active)
	st.Revoked, st.UserActive = revoked.Valid, active != 0
	return st, s.wrap(err)
}

// SetUserActive enables or disables the user.
func (s *Store) SetUserActive(ctx context.Context, id string, active bool, audit ...auth.AuditEvent) error {
	return s.audited(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "setActive", boolInt(active), id)
		if err == nil && n == 0 {
			err = auth.ErrNotFound
		}
		return err
	})
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

// Profile returns the user and its linked providers in one read.
func (s *Store) Profile(ctx context.Context, userID string) (auth.Profile, error) {
	var p auth.Profile
	var social string
	u, err := scanUserAnd(s.row(ctx, nil, "profile", userID), &social, &p.RecoveryCodesLeft)
	if err != nil {
		return p, s.wrap(err)
	}
	p.User, p.Social = u, providers(social)
	return p, nil
}

// UpdateProfile sets the fields of p that are not nil.
func (s *Store) UpdateProfile(ctx context.Context, userID string, p auth.ProfileUpdate) error {
	n, err := s.exec(ctx, nil, "updateProfile", nullString(p.FirstName), nullString(p.LastName), nullString(p.Address),
		nullString(p.Phone), userID)
	if err == nil && n == 0 {
		err = auth.ErrNotFound
	}
	return s.userConflict(s.wrap(err))
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// DeleteUser removes the user and everything that hangs from it, in one transaction.
func (s *Store) DeleteUser(ctx context.Context, userID string, audit ...auth.AuditEvent) error {
	return s.inAuditedTx(ctx, audit, func(tx *sql.Tx) error {
		for _, q := range []string{"deleteUserSessions", "deleteUserSocial", "deleteUserCodes", "deleteUserMail"} {
			if _, err := s.exec(ctx, tx, q, userID); err != nil {
				return err
			}
		}
		n, err := s.exec(ctx, tx, "deleteUser", userID)
		if err == nil && n == 0 {
			err = auth.ErrNotFound
		}
		return err
	})
}

// RekeySocial changes the subject of a link.
func (s *Store) RekeySocial(ctx context.Context, provider, oldSubject, newSubject string, audit ...auth.AuditEvent) error {
	return s.userConflict(s.audited(ctx, audit, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, "rekeySocial", newSubject, provider, oldSubject)
		if err == nil && n == 0 {
			err = auth.ErrNotFound
		}
		return err
	}))
}
