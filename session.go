package auth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Session is one sign-in: the chain of refresh tokens that starts with a password or social
// sign-in and continues through every rotation.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	AMR       []string // how it was proven, RFC 8176 values: "pwd", "google"
	// PasswordChangedAt is the user's as the sign-in's check read it: the store creates the
	// session only while the user is active and that is still so.
	PasswordChangedAt time.Time
	IP                string // the client address of the request that started it
	UserAgent         string // that request's user agent, at most MaxUserAgentLength characters
}

// RefreshToken is what the store keeps of an issued refresh token: its claims, never the token
// itself. Its signatures (HS256, or Ed25519 for tokens issued before refresh keys existed) are
// deterministic, so the same record always re-signs to the same token string, which is how a
// retry inside the reuse window gets the identical successor.
type RefreshToken struct {
	JTI       string
	SessionID string
	UserID    string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RefreshState is a stored refresh token together with everything that decides whether it may be
// used: its session, its user and its successor.
type RefreshState struct {
	Token          RefreshToken
	UsedAt         time.Time     // zero while unused
	Successor      *RefreshToken // set once used
	SuccessorUsed  bool
	SessionRevoked bool
	SessionCreated time.Time
	SessionAMR     []string
	UserActive     bool
	// PasswordChangedAt is the user's: a session created before it is over.
	PasswordChangedAt time.Time
}

// SessionStanding is whether the sign-in an access token names may still be honoured.
type SessionStanding struct {
	UserID     string
	Revoked    bool
	UserActive bool
}

// Login checks an email and password (and, when given, the account's phone number) and starts a
// sign-in. With two-factor sign-in on, it needs otp too: without it the answer is an
// *MFARequiredError, given only after the password was right; a wrong one is the ValidationError
// on "otp". Every failure is ErrInvalidCredentials, after the same hashing work; past the failure
// limit for the email it is a *ThrottledError; ErrBusy when hashing is at capacity. Fields that
// break their limits are a ValidationError with the problems a transport found in the same
// request (found, nil when none), before any attempt is counted.
func (s *Service) Login(ctx context.Context, email, password string, phone, otp *string, found ValidationError) (TokenPair, error) {
	check := newFieldCheck(found)
	check.text("email", email, MaxEmailLength, true)
	check.text("password", password, MaxPasswordLength, true)
	if phone != nil {
		check.text("phone_number", *phone, MaxPhoneLength, false)
	}
	if otp != nil {
		check.text("otp", *otp, MaxCodeLength, false)
	}
	if err := check.err(); err != nil {
		return TokenPair{}, err
	}
	start := s.now()
	key := EmailKey(email)
	// The attempt is counted before its password is judged, so that however many arrive at once
	// (on however many instances share the limiter) at most the limit are judged in a window. A
	// correct password clears the count.
	u, err := s.store.UserByEmailKey(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return TokenPair{}, err
	}
	if err := s.countLoginAttempt(ctx, key, u.ID); err != nil {
		return TokenPair{}, err
	}
	// An unknown email checks against an unusable hash: the same work as a wrong password.
	ok, rehash, err := s.hasher.Check(ctx, u.PasswordHash, password)
	if err != nil {
		return TokenPair{}, err
	}
	if ok && phone != nil {
		given, parsed := s.ParsePhone(*phone)
		ok = parsed && given == u.Phone
	}
	if !ok || !u.Active {
		s.event(ctx, slog.LevelInfo, "sign-in failed", "login_failed", "user_id", u.ID)
		return TokenPair{}, ErrInvalidCredentials
	}
	// A correct password is uncounted. With two-factor sign-in on it is not yet a success: the
	// count of failures stands until a code is right (useSecondFactor clears it), so that wrong
	// codes add up to the lockout however often the password is given again. A code sent with
	// the password is judged under this attempt's count, not counted again.
	switch {
	case !u.TOTPEnabled:
		s.clearLoginFailures(ctx, key)
	case otp == nil:
		s.uncountLoginAttempt(ctx, key)
	}
	if s.cfg.EmailVerification == VerificationRequired && !u.EmailVerified {
		s.event(ctx, slog.LevelInfo, "sign-in refused: email not verified", "login_unverified", "user_id", u.ID)
		return TokenPair{}, ErrEmailNotVerified
	}
	if rehash {
		s.upgradeHash(ctx, u, password)
	}
	pair, err := s.secondStep(ctx, u, start, amrPassword, otp, true)
	if errors.Is(err, ErrConflict) {
		// The password was reset (or the account disabled) while it was being checked.
		return TokenPair{}, ErrInvalidCredentials
	}
	return pair, err
}

// How a sign-in was proven, as access tokens' amr claim says it (RFC 8176; "google" for Google).
var (
	amrPassword = []string{"pwd"}
	amrGoogle   = []string{"google"}
)

// upgradeHash re-hashes a password stored with weaker parameters than the current ones. It is
// best effort: a failure leaves the old, still valid, hash.
func (s *Service) upgradeHash(ctx context.Context, u User, password string) {
	hash, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		s.log.Warn("password re-hash skipped", "user_id", u.ID, "err", err)
	}
}

// startSession records a new sign-in of u that began at start, with its login event (attrs
// say more of it), and returns its first token pair. It returns ErrConflict when u's
// credentials changed, or u was disabled, since u was read.
func (s *Service) startSession(ctx context.Context, u User, start time.Time, amr []string, attrs ...any) (TokenPair, error) {
	sess := Session{ID: newID(), UserID: u.ID, CreatedAt: start, AMR: amr, PasswordChangedAt: u.PasswordChangedAt}
	s.describeSession(ctx, &sess)
	first := s.nextRefresh(sess.ID, u.ID, sess.CreatedAt, s.now())
	ev := s.auditEvent(ctx, "login", append([]any{"user_id", u.ID, "session_id", sess.ID}, attrs...)...)
	if err := s.store.CreateSession(ctx, sess, first, ev); err != nil {
		return TokenPair{}, err
	}
	s.logged(ctx, slog.LevelInfo, "signed in", ev)
	return s.pair(first, amr)
}

// nextRefresh describes a new refresh token of a session. Its expiry never passes the session's
// maximum age, so rotation cannot keep a sign-in alive forever.
func (s *Service) nextRefresh(sessionID, userID string, sessionStart, now time.Time) RefreshToken {
	expires := now.Add(s.cfg.RefreshTTL)
	if s.cfg.SessionMaxAge > 0 {
		if end := sessionStart.Add(s.cfg.SessionMaxAge); end.Before(expires) {
			expires = end
		}
	}
	return RefreshToken{JTI: newRefreshJTI(now), SessionID: sessionID, UserID: userID, KeyID: s.tokens.refreshKeyID(),
		IssuedAt: now, ExpiresAt: expires}
}

// pair signs refresh (the same string every time for the same record) and a fresh access token
// of its sign-in, proven by amr.
func (s *Service) pair(refresh RefreshToken, amr []string) (TokenPair, error) {
	now := s.now()
	access, err := s.tokens.mint(TypeAccess, token{jti: newID(), userID: refresh.UserID, sessionID: refresh.SessionID,
		keyID: s.tokens.signingKeyID(), amr: amr}, now, now.Add(s.cfg.AccessTTL))
	if err != nil {
		return TokenPair{}, err
	}
	ref, err := s.tokens.mint(TypeRefresh, token{jti: refresh.JTI, userID: refresh.UserID, sessionID: refresh.SessionID,
		keyID: refresh.KeyID}, refresh.IssuedAt, refresh.ExpiresAt)
	return TokenPair{Access: access, Refresh: ref}, err
}

// Refresh uses up a refresh token and returns its successor pair. Presented again within the
// reuse window (a lost response, a second tab), it returns the same successor; presented after
// it, or when it is not the newest used token of its session, the whole session is revoked.
// One of the original service's refresh tokens starts a sign-in instead (refreshLegacy). Every
// refusal is ErrTokenInvalid.
func (s *Service) Refresh(ctx context.Context, raw string) (TokenPair, error) {
	if s.isLegacyToken(raw) {
		return s.refreshLegacy(ctx, raw)
	}
	c, err := s.tokens.parse(raw, TypeRefresh)
	if err != nil {
		return TokenPair{}, err
	}
	for range 3 { // a lost race re-reads the state, which then shows the winner's rotation
		now := s.now()
		st, err := s.liveRefresh(ctx, c)
		if err != nil {
			return TokenPair{}, err
		}
		if st.UsedAt.IsZero() {
			next := s.nextRefresh(st.Token.SessionID, st.Token.UserID, st.SessionCreated, now)
			if !next.ExpiresAt.After(now) {
				return TokenPair{}, ErrTokenInvalid
			}
			err := s.store.RotateRefresh(ctx, c.ID, next, now)
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return TokenPair{}, err
			}
			return s.pair(next, st.SessionAMR)
		}
		// With no window, a request racing the winner is reuse too, even if it read the clock
		// before the winner stamped the use.
		if s.cfg.ReuseWindow > 0 && st.Successor != nil && !st.SuccessorUsed && now.Before(st.UsedAt.Add(s.cfg.ReuseWindow)) {
			return s.pair(*st.Successor, st.SessionAMR)
		}
		ev := s.auditEvent(ctx, "refresh_reuse", "user_id", st.Token.UserID, "session_id", st.Token.SessionID)
		if err := s.store.RevokeSession(ctx, st.Token.SessionID, now, ev); err != nil {
			return TokenPair{}, err
		}
		s.logged(ctx, slog.LevelWarn, "refresh token reuse: session revoked", ev)
		return TokenPair{}, ErrTokenInvalid
	}
	return TokenPair{}, ErrTokenInvalid
}

// liveRefresh returns the stored state of a parsed refresh token whose session is live and whose
// user may still use it.
func (s *Service) liveRefresh(ctx context.Context, c *claims) (RefreshState, error) {
	st, err := s.store.RefreshState(ctx, c.ID)
	if errors.Is(err, ErrNotFound) {
		return st, ErrTokenInvalid
	}
	if err != nil {
		return st, err
	}
	if st.SessionRevoked || !st.UserActive || st.Token.UserID != c.UserID || st.SessionCreated.Before(st.PasswordChangedAt) ||
		(c.SessionID != "" && c.SessionID != st.Token.SessionID) {
		return st, ErrTokenInvalid
	}
	return st, nil
}

// Verify checks an access token: signature, expiry, type, audience, and that its sign-in is live
// (not signed out, not revoked by a reset) and its user exists and is active; or one of the
// original service's access tokens (verifyLegacy). Every refusal is ErrTokenInvalid.
func (s *Service) Verify(ctx context.Context, raw string) error {
	if s.isLegacyToken(raw) {
		_, err := s.verifyLegacy(ctx, raw)
		return err
	}
	_, err := s.Authenticate(ctx, raw)
	return err
}

// Logout revokes the sign-in that a refresh token (used or not) belongs to, or uses up one of
// the original service's (logoutLegacy). A token that is invalid, expired or already revoked is
// ErrTokenInvalid.
func (s *Service) Logout(ctx context.Context, raw string) error {
	if s.isLegacyToken(raw) {
		return s.logoutLegacy(ctx, raw)
	}
	c, err := s.tokens.parse(raw, TypeRefresh)
	if err != nil {
		return err
	}
	st, err := s.store.RefreshState(ctx, c.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && (st.SessionRevoked || st.Token.UserID != c.UserID)) {
		return ErrTokenInvalid
	}
	if err != nil {
		return err
	}
	ev := s.auditEvent(ctx, "logout", "user_id", st.Token.UserID, "session_id", st.Token.SessionID)
	if err := s.store.RevokeSession(ctx, st.Token.SessionID, s.now(), ev); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "signed out", ev)
	return nil
}
