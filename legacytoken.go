package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// The original service's tokens: simplejwt's HS256 JWTs, signed with LegacyJWTSecret, honoured
// for imported users until LegacyJWTUntil. They are told from authd's own by the kid header,
// which authd's always carry and simplejwt's never do. A refresh token is used once and becomes
// a sign-in here; an access token only passes /auth/token/verify/ (Verify), never a signed-in
// endpoint (Authenticate), since it names no sign-in of this service.

// LegacyRefreshState is what the store knows of one of the original's refresh tokens. A token
// that neither the import nor an earlier use recorded has the zero state: unused, unblacklisted.
type LegacyRefreshState struct {
	Recorded       bool
	LegacyUserID   string    // as recorded; "" when not recorded
	UsedAt         time.Time // zero while unused
	SessionID      string    // the sign-in its use became; "" when unused or used up by a logout
	Successor      *RefreshToken
	SuccessorUsed  bool
	SessionRevoked bool // the sign-in it became is revoked or gone
	Blacklisted    bool // the original blacklisted it
}

// LegacyUse is one use of an original refresh token, as the store records it.
type LegacyUse struct {
	JTI          string
	LegacyUserID string
	ExpiresAt    time.Time
	UsedAt       time.Time
}

// legacyClaims are the claims simplejwt writes.
type legacyClaims struct {
	TokenType string           `json:"token_type"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	ID        string           `json:"jti"`
	UserID    legacyUserID     `json:"user_id"`
}

func (c *legacyClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *legacyClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *legacyClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *legacyClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *legacyClaims) GetSubject() (string, error)                  { return "", nil }
func (c *legacyClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// legacyUserID is the original's primary key as its tokens carry it: a number for an integer
// key, a string for a UUID; kept as text. Anything else leaves it empty, which is refused.
type legacyUserID string

func (l *legacyUserID) UnmarshalJSON(b []byte) error {
	*l = ""
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = legacyUserID(s)
		return nil
	}
	digits := strings.TrimPrefix(string(b), "-")
	if digits == "" || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		return nil
	}
	*l = legacyUserID(b)
	return nil
}

// maxLegacyIDLength bounds a legacy token's jti and user_id: simplejwt's are 32 hex digits and
// a primary key.
const maxLegacyIDLength = 255

// legacyOn reports whether the original's tokens are honoured at now.
func (s *Service) legacyOn(now time.Time) bool {
	return len(s.cfg.LegacyJWTSecret) > 0 && (s.cfg.LegacyJWTUntil.IsZero() || now.Before(s.cfg.LegacyJWTUntil))
}

// isLegacyToken reports whether raw is to be read as one of the original's tokens: they are
// honoured now and its header (which must decode) names no kid. Any other token is read as
// authd's own, which needs a kid.
func (s *Service) isLegacyToken(raw string) bool {
	if raw == "" || len(raw) > MaxTokenLength || !s.legacyOn(s.now()) {
		return false
	}
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b, &h); err != nil {
		return false
	}
	_, kid := h["kid"]
	return !kid
}

// parseLegacy checks one of the original's tokens as strictly as authd's own: HS256 under
// LegacyJWTSecret and no other algorithm, no kid, exp required and in the future, iat, jti and
// user_id present, token_type wantType, and the legacy window still open. Every refusal is
// ErrTokenInvalid.
func (s *Service) parseLegacy(raw, wantType string) (*legacyClaims, error) {
	if raw == "" || len(raw) > MaxTokenLength || !s.legacyOn(s.now()) {
		return nil, ErrTokenInvalid
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(), jwt.WithTimeFunc(s.now))
	var c legacyClaims
	_, err := p.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["kid"]; ok {
			return nil, errors.New("a kid: not the original's")
		}
		return s.cfg.LegacyJWTSecret, nil
	})
	if err != nil || c.TokenType != wantType || !legacyID(c.ID) || !legacyID(string(c.UserID)) || c.IssuedAt == nil ||
		c.IssuedAt.Time.After(s.now().Add(time.Minute)) || !numericTimes(raw) {
		return nil, ErrTokenInvalid
	}
	return &c, nil
}

// legacyID reports whether a legacy token's jti or user_id is one the store may be asked about:
// present, bounded, valid text without control characters (PostgreSQL refuses a NUL).
func legacyID(s string) bool {
	return s != "" && len(s) <= maxLegacyIDLength && utf8.ValidString(s) && !HasControlCharacters(s)
}

// numericTimes reports whether a token's exp and iat are JSON numbers, as RFC 7519 has them
// ("NumericDate"); the library would also read a number written as a string.
func numericTimes(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	for _, name := range []string{"exp", "iat"} {
		v := claims[name]
		if len(v) == 0 || !(v[0] >= '0' && v[0] <= '9') {
			return false
		}
	}
	return true
}

// legacyUser returns the imported, active user a legacy token names, if its password was not
// reset or changed here after the token was issued.
func (s *Service) legacyUser(ctx context.Context, c *legacyClaims) (User, error) {
	u, err := s.store.UserByLegacyID(ctx, string(c.UserID))
	if errors.Is(err, ErrNotFound) {
		return u, ErrTokenInvalid
	}
	if err != nil {
		return u, err
	}
	// A password changed or reset here, or every sign-in ended here, ends the original's tokens
	// issued before it too.
	if !u.Active || c.IssuedAt.Time.Before(u.PasswordChangedAt) || c.IssuedAt.Time.Before(u.SessionsRevokedAt) {
		return u, ErrTokenInvalid
	}
	return u, nil
}

// legacyRefresh reads a legacy refresh token's state and its user, refusing a token the
// original blacklisted or one recorded for another user.
func (s *Service) legacyRefresh(ctx context.Context, c *legacyClaims) (LegacyRefreshState, User, error) {
	st, err := s.store.LegacyRefreshState(ctx, c.ID)
	if err != nil {
		return st, User{}, err
	}
	if st.Blacklisted || (st.Recorded && st.LegacyUserID != string(c.UserID)) {
		return st, User{}, ErrTokenInvalid
	}
	u, err := s.legacyUser(ctx, c)
	return st, u, err
}

func (c *legacyClaims) use(now time.Time) LegacyUse {
	return LegacyUse{JTI: c.ID, LegacyUserID: string(c.UserID), ExpiresAt: c.ExpiresAt.Time, UsedAt: now}
}

// refreshLegacy uses up one of the original's refresh tokens and starts a sign-in here, whose
// first pair it returns. A retry inside the reuse window gets the same pair; past it, or once
// that sign-in's first refresh token was used, the token is reuse and the sign-in is revoked.
// An account with two-factor sign-in on here must sign in with it: a legacy token skips no
// factor. Every refusal is ErrTokenInvalid.
func (s *Service) refreshLegacy(ctx context.Context, raw string) (TokenPair, error) {
	c, err := s.parseLegacy(raw, TypeRefresh)
	if err != nil {
		return TokenPair{}, err
	}
	for range 3 { // a lost race re-reads the state, which then shows the winner's use
		now := s.now()
		st, u, err := s.legacyRefresh(ctx, c)
		if err != nil {
			return TokenPair{}, err
		}
		if st.UsedAt.IsZero() {
			if u.TOTPEnabled {
				return TokenPair{}, ErrTokenInvalid
			}
			// As /auth/token/ does: an address not proven yet is no sign-in while it is required.
			if s.cfg.EmailVerification == VerificationRequired && !u.EmailVerified {
				return TokenPair{}, ErrEmailNotVerified
			}
			sess := Session{ID: newID(), UserID: u.ID, CreatedAt: now, AMR: amrPassword, PasswordChangedAt: u.PasswordChangedAt}
			s.describeSession(ctx, &sess)
			first := s.nextRefresh(sess.ID, u.ID, now, now)
			ev := s.auditEvent(ctx, "legacy_refresh", "user_id", u.ID, "session_id", sess.ID)
			err := s.store.UseLegacyRefresh(ctx, c.use(now), sess, first, ev)
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return TokenPair{}, err
			}
			s.logged(ctx, slog.LevelInfo, "signed in with a token of the original service", ev)
			return s.pair(first, amrPassword)
		}
		if st.SessionID == "" || st.SessionRevoked {
			return TokenPair{}, ErrTokenInvalid // used up by a logout, or its sign-in is over
		}
		if s.cfg.ReuseWindow > 0 && st.Successor != nil && !st.SuccessorUsed && now.Before(st.UsedAt.Add(s.cfg.ReuseWindow)) {
			return s.pair(*st.Successor, amrPassword)
		}
		ev := s.auditEvent(ctx, "refresh_reuse", "user_id", u.ID, "session_id", st.SessionID, "legacy", true)
		if err := s.store.RevokeSession(ctx, st.SessionID, now, ev); err != nil {
			return TokenPair{}, err
		}
		s.logged(ctx, slog.LevelWarn, "refresh token reuse: session revoked", ev)
		return TokenPair{}, ErrTokenInvalid
	}
	return TokenPair{}, ErrTokenInvalid
}

// verifyLegacy checks one of the original's access tokens: valid (parseLegacy) and of an
// imported, active user whose password was not changed here since. It names no sign-in of this
// service, so the Caller's SessionID is empty. Every refusal is ErrTokenInvalid.
func (s *Service) verifyLegacy(ctx context.Context, raw string) (Caller, error) {
	c, err := s.parseLegacy(raw, TypeAccess)
	if err != nil {
		return Caller{}, err
	}
	u, err := s.legacyUser(ctx, c)
	if err != nil {
		return Caller{}, err
	}
	return Caller{UserID: u.ID}, nil
}

// logoutLegacy uses up one of the original's refresh tokens, and revokes the sign-in it became
// here, if it became one. A token already used up by a logout, or whose sign-in is over, is
// ErrTokenInvalid, as are the refusals of refresh.
func (s *Service) logoutLegacy(ctx context.Context, raw string) error {
	c, err := s.parseLegacy(raw, TypeRefresh)
	if err != nil {
		return err
	}
	for range 3 {
		now := s.now()
		st, u, err := s.legacyRefresh(ctx, c)
		if err != nil {
			return err
		}
		if st.UsedAt.IsZero() {
			ev := s.auditEvent(ctx, "logout", "user_id", u.ID, "legacy", true)
			err := s.store.RevokeLegacyRefresh(ctx, c.use(now), ev)
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			s.logged(ctx, slog.LevelInfo, "signed out", ev)
			return nil
		}
		if st.SessionID == "" || st.SessionRevoked {
			return ErrTokenInvalid
		}
		ev := s.auditEvent(ctx, "logout", "user_id", u.ID, "session_id", st.SessionID, "legacy", true)
		if err := s.store.RevokeSession(ctx, st.SessionID, now, ev); err != nil {
			return err
		}
		s.logged(ctx, slog.LevelInfo, "signed out", ev)
		return nil
	}
	return ErrTokenInvalid
}
