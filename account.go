package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"
)

// Caller is who a signed-in request comes from: the user and sign-in its access token names.
type Caller struct {
	UserID    string
	SessionID string
	AMR       []string
}

// Authenticate checks an access token as Verify does and returns who it speaks for. Only
// authd's own tokens authenticate: the original service's access tokens name no sign-in here,
// so they pass Verify but not the signed-in endpoints. Every refusal is ErrTokenInvalid.
func (s *Service) Authenticate(ctx context.Context, raw string) (Caller, error) {
	c, err := s.tokens.parse(raw, TypeAccess)
	if err != nil {
		return Caller{}, err
	}
	st, err := s.store.SessionStanding(ctx, c.SessionID)
	if errors.Is(err, ErrNotFound) {
		return Caller{}, ErrTokenInvalid
	}
	if err != nil {
		return Caller{}, err
	}
	if st.Revoked || !st.UserActive || st.UserID != c.UserID {
		return Caller{}, ErrTokenInvalid
	}
	return Caller{UserID: c.UserID, SessionID: c.SessionID, AMR: c.AMR}, nil
}

// Profile is an account as its owner sees it.
type Profile struct {
	User
	Social            []string // the backends linked, e.g. "google-oauth2"; sorted
	RecoveryCodesLeft int      // unused two-factor recovery codes
}

// ProfileUpdate is the fields of a profile to change; nil leaves one as it is.
type ProfileUpdate struct {
	FirstName *string
	LastName  *string
	Address   *string
	Phone     *string // E.164 once checked
}

// Profile returns the caller's profile. An account deleted since the token was checked is
// ErrTokenInvalid.
func (s *Service) Profile(ctx context.Context, c Caller) (Profile, error) {
	p, err := s.store.Profile(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return p, ErrTokenInvalid
	}
	return p, err
}

// UpdateProfile changes the fields of p that are set, with registration's rules and messages,
// and returns the profile as it is then. emailGiven says the request tried to change the email,
// which goes through RequestEmailChange instead. A request that names no field to change is a
// ValidationError too: it would change nothing, which is never what its sender meant.
func (s *Service) UpdateProfile(ctx context.Context, c Caller, p ProfileUpdate, emailGiven bool, found ValidationError) (Profile, error) {
	current, err := s.Profile(ctx, c)
	if err != nil {
		return current, err
	}
	check := newFieldCheck(found)
	if p.FirstName != nil {
		checkName(check, "first_name", *p.FirstName)
	}
	if p.LastName != nil {
		checkName(check, "last_name", *p.LastName)
	}
	if p.Address != nil {
		checkAddress(check, *p.Address)
	}
	if p.Phone != nil {
		phone, err := s.checkPhone(ctx, check, *p.Phone, current.Phone)
		if err != nil {
			return current, err
		}
		p.Phone = &phone
	}
	if emailGiven {
		check.errs.Add("email", MsgUseEmailChange)
	}
	if p == (ProfileUpdate{}) && len(check.errs) == 0 {
		check.errs.Add("non_field_errors", MsgNothingToUpdate)
	}
	if err := check.err(); err != nil {
		return current, err
	}
	if err := s.store.UpdateProfile(ctx, c.UserID, p); err != nil {
		if errors.Is(err, ErrNotFound) {
			return current, ErrTokenInvalid
		}
		return current, takenError(err)
	}
	s.event(ctx, slog.LevelInfo, "profile updated", "profile_update", "user_id", c.UserID)
	return s.Profile(ctx, c)
}

// DeleteAccount deletes the caller's account and everything of it, after checking its current
// password (when it has one: a wrong one is a ValidationError on "password" and counts as a
// failed sign-in).
func (s *Service) DeleteAccount(ctx context.Context, c Caller, password *string, found ValidationError) error {
	u, err := s.caller(ctx, c)
	if err != nil {
		return err
	}
	check := newFieldCheck(found)
	if err := s.confirmPassword(ctx, check, u, "password", password, MsgIncorrectPassword); err != nil {
		return err
	}
	if err := check.err(); err != nil {
		return err
	}
	ev := s.auditEvent(ctx, "account_delete", "user_id", u.ID)
	if err := s.store.DeleteUser(ctx, u.ID, ev); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrTokenInvalid
		}
		return err
	}
	s.logged(ctx, slog.LevelInfo, "account deleted", ev)
	return nil
}

// ChangePassword replaces the caller's password after checking the old one (an account without
// a usable password sets its first, and needs none), revokes every sign-in of the account, the
// caller's included, and starts a new one whose pair it returns. A wrong old password is a
// ValidationError on "old_password" and counts as a failed sign-in; the password rules report
// on "new_password".
func (s *Service) ChangePassword(ctx context.Context, c Caller, oldPassword *string, newPassword string, found ValidationError) (TokenPair, error) {
	u, err := s.caller(ctx, c)
	if err != nil {
		return TokenPair{}, err
	}
	check := newFieldCheck(found)
	if check.text("new_password", newPassword, MaxPasswordLength, true) {
		for _, p := range passwordProblems(newPassword, s.cfg.MinPasswordLength, u.FirstName, u.LastName, u.Email) {
			check.errs.Add("new_password", p)
		}
	}
	if err := s.confirmPassword(ctx, check, u, "old_password", oldPassword, MsgOldPasswordIncorrect); err != nil {
		return TokenPair{}, err
	}
	if err := check.err(); err != nil {
		return TokenPair{}, err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return TokenPair{}, err
	}
	now := s.now()
	// The new sign-in is proven as the caller's was: a sign-in with the second factor stays one.
	amr := amrPassword
	if slices.Contains(c.AMR, "mfa") {
		amr = amrWithOTP(amrPassword)
	}
	sess := Session{ID: newID(), UserID: u.ID, CreatedAt: now, AMR: amr, PasswordChangedAt: now}
	s.describeSession(ctx, &sess)
	first := s.nextRefresh(sess.ID, u.ID, now, now)
	change := AccountChange{UserID: u.ID, At: now, IfPasswordChangedAt: &u.PasswordChangedAt, SetPassword: true,
		PasswordHash: hash, RevokeSessions: true, StartSession: &NewSession{Session: sess, First: first},
		Mail: s.seal(u.ID, passwordChangedMessage(u.Email))}
	ev := s.auditEvent(ctx, "password_change", "user_id", u.ID, "first_password", u.PasswordHash == "")
	// The sign-in the change hands out starts here: its login row is written with it.
	change.Audit = []AuditEvent{ev, s.auditEvent(ctx, "login", "user_id", u.ID, "session_id", sess.ID, "method", "password_change")}
	if err := s.store.ChangeAccount(ctx, change); err != nil {
		if errors.Is(err, ErrConflict) { // changed (or disabled) meanwhile: the old password is no longer it
			return TokenPair{}, ValidationError{"old_password": {MsgOldPasswordIncorrect}}
		}
		return TokenPair{}, err
	}
	s.mailed()
	s.logged(ctx, slog.LevelInfo, "password changed", ev)
	return s.pair(first, amr)
}

// caller returns the caller's account; one deleted or disabled since its token was checked is
// ErrTokenInvalid.
func (s *Service) caller(ctx context.Context, c Caller) (User, error) {
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && !u.Active) {
		return u, ErrTokenInvalid
	}
	return u, err
}

// confirmPassword judges the current password a signed-in request gives in field, when the
// account has one: missing, it is required; wrong, it is wrongMsg on field and counts as a
// failed sign-in of the account's email (past the limit, a *ThrottledError before it is judged);
// right, it clears the count. An account without a usable password needs none.
func (s *Service) confirmPassword(ctx context.Context, check fieldCheck, u User, field string, given *string, wrongMsg string) error {
	if u.PasswordHash == "" {
		delete(check.errs, field) // nothing to confirm: whatever was sent is not judged
		return nil
	}
	value := ""
	if given != nil {
		value = *given
	}
	if !check.text(field, value, MaxPasswordLength, true) {
		return nil
	}
	key := EmailKey(u.Email)
	if err := s.countLoginAttempt(ctx, key, u.ID); err != nil {
		return err
	}
	ok, _, err := s.hasher.Check(ctx, u.PasswordHash, value)
	if err != nil {
		return err
	}
	if !ok {
		s.event(ctx, slog.LevelInfo, "password confirmation failed", "login_failed", "user_id", u.ID, "field", field)
		check.errs.Add(field, wrongMsg)
		return nil
	}
	s.clearLoginFailures(ctx, key)
	return nil
}

// SessionInfo is a live sign-in as its account's owner sees it.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time // its last refresh; zero before the first
	ExpiresAt  time.Time // its newest refresh token's expiry
	IP         string
	UserAgent  string
	AMR        []string
	Current    bool // the caller's own
}

// MaxUserAgentLength bounds the user agent kept of a sign-in, in characters.
const MaxUserAgentLength = 512

// describeSession records on sess where the request that starts it came from. The user agent
// loses its control and bidirectional characters, which could disguise it in a list of sign-ins.
func (s *Service) describeSession(ctx context.Context, sess *Session) {
	client := ClientFrom(ctx)
	sess.IP, sess.UserAgent = client.IP, truncate(dropControlCharacters(client.UserAgent), MaxUserAgentLength)
}

// Sessions returns the caller's account's live sign-ins, newest first, the caller's marked.
func (s *Service) Sessions(ctx context.Context, c Caller) ([]SessionInfo, error) {
	list, err := s.store.UserSessions(ctx, c.UserID, s.now())
	for i := range list {
		list[i].Current = list[i].ID == c.SessionID
	}
	return list, err
}

// EndSession ends one sign-in of the caller's account: its refresh and access tokens stop
// working. An id that is not a live sign-in of the account is ErrNotFound.
func (s *Service) EndSession(ctx context.Context, c Caller, sessionID string) error {
	if !isID(sessionID) {
		return ErrNotFound
	}
	ev := s.auditEvent(ctx, "session_revoked", "user_id", c.UserID, "session_id", sessionID)
	if err := s.store.RevokeUserSession(ctx, c.UserID, sessionID, s.now(), ev); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "signed out", ev)
	return nil
}

// LogoutAll ends every sign-in of the caller's account, the caller's included.
func (s *Service) LogoutAll(ctx context.Context, c Caller) error {
	ev := s.auditEvent(ctx, "logout_all", "user_id", c.UserID, "session_id", c.SessionID)
	if err := s.store.ChangeAccount(ctx, AccountChange{UserID: c.UserID, At: s.now(), RevokeSessions: true, Audit: []AuditEvent{ev}}); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "signed out everywhere", ev)
	return nil
}
