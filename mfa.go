package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// Two-factor sign-in with time-based one-time passwords (RFC 6238), as Google Authenticator
// reads them: SHA-1, 6 digits, 30-second steps, a 160-bit secret. The library computes the
// codes; this file decides which are accepted.
const (
	totpPeriod        = 30 // seconds a step lasts
	totpSkew          = 1  // steps accepted either side of the current one
	totpSecretBytes   = 20 // 160 bits, RFC 4226's recommendation
	recoveryCodeCount = 10
	// MFATokenTTL is how long the mfa_token of a sign-in waiting for its code lives.
	MFATokenTTL = 5 * time.Minute
	// MFATokenAttempts is how many codes an mfa_token takes before it dies.
	MFATokenAttempts = 5
)

// Two-factor failures.
var (
	// ErrMFAEnabled refuses to start an enrolment for an account that has two-factor on.
	ErrMFAEnabled = errors.New("two-factor authentication is already enabled")
	// ErrMFANotEnabled refuses to turn off or renew what is not on.
	ErrMFANotEnabled = errors.New("two-factor authentication is not enabled")
)

// MFARequiredError is a correct password (or Google sign-in) for an account with two-factor
// sign-in on, given no code: Token finishes it at POST /auth/token/mfa/ with one.
type MFARequiredError struct {
	Token string
}

func (e *MFARequiredError) Error() string { return "two-factor authentication code required" }

// TOTP is an account's authenticator: an enrolment until ConfirmedAt is set. Secret is as the
// store keeps it, sealed when a master key is set.
type TOTP struct {
	UserID      string
	Secret      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastStep    int64 // the newest step whose code was accepted
}

// MFAChallenge is a sign-in waiting for its second factor. Only the digest of its token is kept.
type MFAChallenge struct {
	TokenHash         []byte
	UserID            string
	AMR               []string // how the first factor was proven
	CreatedAt         time.Time
	ExpiresAt         time.Time
	PasswordChangedAt time.Time // as the first factor's check read it
}

// amrWithOTP is how a sign-in proven by first and a one-time code is described (RFC 8176).
func amrWithOTP(first []string) []string {
	return append(append([]string{}, first...), "otp", "mfa")
}

// Enrolment is what a person adds to their authenticator app.
type Enrolment struct {
	Secret     string // base32, no padding
	OTPAuthURL string // otpauth://totp/..., for a QR code
}

// totpLabel is the associated data a TOTP secret is sealed with: a sealed secret does not open
// as another account's.
func totpLabel(userID string) string { return "totp:" + userID }

var base32NoPadding = base32.StdEncoding.WithPadding(base32.NoPadding)

// StartTOTP begins (or restarts) the caller's enrolment after checking its password, and returns
// the secret and otpauth URL. An account with two-factor on is ErrMFAEnabled.
func (s *Service) StartTOTP(ctx context.Context, c Caller, password *string, found ValidationError) (Enrolment, error) {
	u, err := s.caller(ctx, c)
	if err != nil {
		return Enrolment{}, err
	}
	check := newFieldCheck(found)
	if err := s.confirmPassword(ctx, check, u, "password", password, MsgIncorrectPassword); err != nil {
		return Enrolment{}, err
	}
	if err := check.err(); err != nil {
		return Enrolment{}, err
	}
	secret := randomBytes(totpSecretBytes)
	t := TOTP{UserID: u.ID, Secret: s.keyring.seal(totpLabel(u.ID), secret), CreatedAt: s.now()}
	if err := s.store.StartTOTP(ctx, t); err != nil {
		if errors.Is(err, ErrConflict) {
			return Enrolment{}, ErrMFAEnabled
		}
		return Enrolment{}, err
	}
	encoded := base32NoPadding.EncodeToString(secret)
	s.event(ctx, slog.LevelInfo, "two-factor enrolment started", "mfa_enrol_start", "user_id", u.ID)
	return Enrolment{Secret: encoded, OTPAuthURL: otpauthURL(s.cfg.Issuer, u.Email, encoded)}, nil
}

// otpauthURL is the Key URI Google Authenticator, 1Password and Authy read.
func otpauthURL(issuer, account, secret string) string {
	return "otpauth://totp/" + labelEscape(issuer) + ":" + labelEscape(account) +
		"?secret=" + secret + "&issuer=" + queryEscape(issuer) + "&algorithm=SHA1&digits=6&period=30"
}

// labelEscape escapes a part of the URL's label as a path segment, and its colon, which would
// split issuer from account in the wrong place.
func labelEscape(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }

// queryEscape percent-encodes a query value as RFC 3986 does, a space as %20: authenticator apps
// show a "+" (form encoding's space) as it is.
func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// ConfirmTOTP turns two-factor sign-in on with a current code of the enrolment's secret and
// returns ten new recovery codes, which exist nowhere else afterwards.
func (s *Service) ConfirmTOTP(ctx context.Context, c Caller, code string, found ValidationError) ([]string, error) {
	u, err := s.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := checkOTPField(code, found); err != nil {
		return nil, err
	}
	t, err := s.store.TOTP(ctx, u.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errInvalidCode
	case err != nil:
		return nil, err
	case !t.ConfirmedAt.IsZero():
		return nil, ErrMFAEnabled
	}
	// A wrong code counts as a failed sign-in, as everywhere a code is judged: otherwise a stolen
	// access token could guess an unconfirmed enrolment's codes without end.
	key := EmailKey(u.Email)
	if err := s.countLoginAttempt(ctx, key, u.ID); err != nil {
		return nil, err
	}
	step, ok, err := s.matchTOTP(t, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.event(ctx, slog.LevelInfo, "two-factor confirmation refused", "mfa_code_failed", "user_id", u.ID)
		return nil, errInvalidCode
	}
	s.clearLoginFailures(ctx, key)
	codes, hashes := s.newRecoveryCodes(u.ID)
	ev := s.auditEvent(ctx, "mfa_enabled", "user_id", u.ID)
	if err := s.store.ConfirmTOTP(ctx, u.ID, step, hashes, s.now(), ev); err != nil {
		if errors.Is(err, ErrConflict) { // the code was used, or it was confirmed, meanwhile
			return nil, errInvalidCode
		}
		return nil, err
	}
	s.logged(ctx, slog.LevelInfo, "two-factor sign-in turned on", ev)
	return codes, nil
}

// DisableTOTP turns two-factor sign-in off, with a current code or a recovery code, and drops
// the recovery codes.
func (s *Service) DisableTOTP(ctx context.Context, c Caller, code string, found ValidationError) error {
	u, err := s.secondFactor(ctx, c, code, found)
	if err != nil {
		return err
	}
	ev := s.auditEvent(ctx, "mfa_disabled", "user_id", u.ID)
	if err := s.store.DeleteTOTP(ctx, u.ID, ev); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "two-factor sign-in turned off", ev)
	return nil
}

// RenewRecoveryCodes replaces the recovery codes with ten new ones, with a current code or a
// recovery code.
func (s *Service) RenewRecoveryCodes(ctx context.Context, c Caller, code string, found ValidationError) ([]string, error) {
	u, err := s.secondFactor(ctx, c, code, found)
	if err != nil {
		return nil, err
	}
	codes, hashes := s.newRecoveryCodes(u.ID)
	if err := s.store.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
		return nil, err
	}
	s.event(ctx, slog.LevelInfo, "recovery codes renewed", "mfa_recovery_renewed", "user_id", u.ID)
	return codes, nil
}

// secondFactor checks a signed-in request's code for an account with two-factor on.
func (s *Service) secondFactor(ctx context.Context, c Caller, code string, found ValidationError) (User, error) {
	u, err := s.caller(ctx, c)
	if err != nil {
		return u, err
	}
	if err := checkOTPField(code, found); err != nil {
		return u, err
	}
	if !u.TOTPEnabled {
		return u, ErrMFANotEnabled
	}
	return u, s.useSecondFactor(ctx, u, code)
}

func checkOTPField(code string, found ValidationError) error {
	check := newFieldCheck(found)
	check.text("otp", code, MaxCodeLength, true)
	return check.err()
}

// useSecondFactor accepts a TOTP code or a recovery code of u, each once: a wrong one is the
// ValidationError on "otp" and counts as a failed sign-in of u's email (past the limit, a
// *ThrottledError before it is judged); a right one clears the count.
func (s *Service) useSecondFactor(ctx context.Context, u User, code string) error {
	return s.judgeSecondFactor(ctx, u, code, false)
}

// judgeSecondFactor is useSecondFactor for a request that may have been counted already.
func (s *Service) judgeSecondFactor(ctx context.Context, u User, code string, counted bool) error {
	key := EmailKey(u.Email)
	if !counted {
		if err := s.countLoginAttempt(ctx, key, u.ID); err != nil {
			return err
		}
	}
	ok, err := s.acceptSecondFactor(ctx, u, code)
	if err != nil {
		return err
	}
	if !ok {
		s.event(ctx, slog.LevelInfo, "two-factor code refused", "mfa_code_failed", "user_id", u.ID)
		return errInvalidCode
	}
	s.clearLoginFailures(ctx, key)
	return nil
}

func (s *Service) acceptSecondFactor(ctx context.Context, u User, code string) (bool, error) {
	if recovery, ok := normalizeRecoveryCode(code); ok {
		err := s.store.UseRecoveryCode(ctx, u.ID, s.recoveryHash(u.ID, recovery), s.now())
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err == nil {
			s.event(ctx, slog.LevelInfo, "recovery code used", "mfa_recovery_used", "user_id", u.ID)
		}
		return err == nil, err
	}
	t, err := s.store.TOTP(ctx, u.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && t.ConfirmedAt.IsZero()) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	step, ok, err := s.matchTOTP(t, code)
	if err != nil || !ok {
		return false, err
	}
	// The step is taken with a conditional write: of requests racing with one code, on any
	// instance, one wins; a code already used, or older than one used, loses.
	err = s.store.UseTOTPStep(ctx, u.ID, step)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// matchTOTP returns the step, from the one before now to the one after, whose code is code, if
// it is newer than the newest step already used.
func (s *Service) matchTOTP(t TOTP, code string) (int64, bool, error) {
	secret, _, err := s.keyring.open(totpLabel(t.UserID), t.Secret)
	if err != nil {
		return 0, false, err
	}
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false, nil
	}
	encoded := base32NoPadding.EncodeToString(secret)
	now := s.now().Unix() / totpPeriod
	var found int64
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(encoded, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false, err
		}
		// Every step is compared, in constant time, so the time taken tells nothing.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > t.LastStep && found == 0 {
			found = step
		}
	}
	return found, found != 0, nil
}

// newRecoveryCodes returns ten recovery codes and their digests, the only form kept.
func (s *Service) newRecoveryCodes(userID string) ([]string, [][]byte) {
	codes := make([]string, recoveryCodeCount)
	hashes := make([][]byte, recoveryCodeCount)
	for i := range codes {
		raw := strings.ToLower(rand.Text()[:10]) // 50 random bits, base32
		codes[i] = raw[:5] + "-" + raw[5:]
		hashes[i] = s.recoveryHash(userID, raw)
	}
	return codes, hashes
}

// normalizeRecoveryCode returns a recovery code as it is hashed (ten base32 characters, lower
// case, no hyphen), and whether code has that shape at all.
func normalizeRecoveryCode(code string) (string, bool) {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	if len(code) != 10 {
		return "", false
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return "", false
		}
	}
	return code, true
}

func (s *Service) recoveryHash(userID, code string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte("recovery\x00" + userID + "\x00" + code))
	return m.Sum(nil)
}

// challenge stores a sign-in of u, proven by first, that waits for its second factor, and
// returns the *MFARequiredError carrying its token.
func (s *Service) challenge(ctx context.Context, u User, first []string) error {
	raw := randomBytes(32)
	now := s.now()
	ch := MFAChallenge{TokenHash: mfaTokenHash(raw), UserID: u.ID, AMR: first, CreatedAt: now, ExpiresAt: now.Add(MFATokenTTL),
		PasswordChangedAt: u.PasswordChangedAt}
	if err := s.store.CreateMFAChallenge(ctx, ch); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "two-factor code required", "mfa_required", "user_id", u.ID)
	return &MFARequiredError{Token: base64.RawURLEncoding.EncodeToString(raw)}
}

func mfaTokenHash(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return sum[:]
}

// FinishMFA completes a sign-in waiting for its second factor with a TOTP or recovery code. A
// dead, used, expired or unknown mfa_token is ErrTokenInvalid; a wrong code is the
// ValidationError on "otp" (the token dies after MFATokenAttempts codes).
func (s *Service) FinishMFA(ctx context.Context, token, code string, found ValidationError) (TokenPair, error) {
	check := newFieldCheck(found)
	check.text("mfa_token", token, MaxTokenLength, true)
	check.text("otp", code, MaxCodeLength, true)
	if err := check.err(); err != nil {
		return TokenPair{}, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		return TokenPair{}, ErrTokenInvalid
	}
	ch, err := s.store.ClaimMFAChallenge(ctx, mfaTokenHash(raw), s.now(), MFATokenAttempts)
	if errors.Is(err, ErrNotFound) {
		return TokenPair{}, ErrTokenInvalid
	}
	if err != nil {
		return TokenPair{}, err
	}
	u, err := s.store.UserByID(ctx, ch.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && (!u.Active || !u.PasswordChangedAt.Equal(ch.PasswordChangedAt))) {
		return TokenPair{}, ErrTokenInvalid
	}
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.useSecondFactor(ctx, u, code); err != nil {
		return TokenPair{}, err
	}
	amr := amrWithOTP(ch.AMR)
	sess := Session{ID: newID(), UserID: u.ID, CreatedAt: ch.CreatedAt, AMR: amr, PasswordChangedAt: ch.PasswordChangedAt}
	s.describeSession(ctx, &sess)
	first := s.nextRefresh(sess.ID, u.ID, sess.CreatedAt, s.now())
	ev := s.auditEvent(ctx, "login", "user_id", u.ID, "session_id", sess.ID, "amr", strings.Join(amr, " "))
	if err := s.store.FinishMFAChallenge(ctx, ch.TokenHash, s.now(), sess, first, ev); err != nil {
		if errors.Is(err, ErrConflict) { // used by a racing request, or the credentials changed
			return TokenPair{}, ErrTokenInvalid
		}
		return TokenPair{}, err
	}
	s.logged(ctx, slog.LevelInfo, "signed in", ev)
	return s.pair(first, amr)
}

// secondStep finishes a first factor of u (first), proven at start: without two-factor sign-in
// it starts the sign-in; with it, it needs code (nil: a challenge, *MFARequiredError) and starts
// a sign-in described by both. counted says the request was counted as a sign-in attempt
// already (a password checked with the code), so the code is judged under that count.
func (s *Service) secondStep(ctx context.Context, u User, start time.Time, first []string, code *string, counted bool, attrs ...any) (TokenPair, error) {
	if !u.TOTPEnabled {
		return s.startSession(ctx, u, start, first, attrs...)
	}
	if code == nil {
		return TokenPair{}, s.challenge(ctx, u, first)
	}
	if err := checkOTPField(*code, nil); err != nil {
		return TokenPair{}, err
	}
	if err := s.judgeSecondFactor(ctx, u, *code, counted); err != nil {
		return TokenPair{}, err
	}
	amr := amrWithOTP(first)
	return s.startSession(ctx, u, start, amr, append(attrs, "amr", strings.Join(amr, " "))...)
}
