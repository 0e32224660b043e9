package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"
)

// ResetCode is a one-time code for setting a password. Only an HMAC of the code is stored.
// UserID is empty for a request about an email that has no account: the row still counts
// towards the hourly cap, and no code can ever match it.
type ResetCode struct {
	ID        string
	EmailKey  string
	UserID    string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// errInvalidCode is the single answer to a wrong, expired, replaced, used or exhausted code, and
// to any code for an email without an account.
var errInvalidCode = ValidationError{"otp": {MsgInvalidCode}}

// RequestReset mails a fresh 6-digit code to the account with that email; the code replaces
// older ones. An email without an account returns ErrNotFound when the service reveals unknown
// emails, and nil otherwise; either way it is counted against the same hourly cap, which
// answers *ThrottledError. An email that is not valid is a ValidationError, with the problems a
// transport found in the same request (found, nil when none).
func (s *Service) RequestReset(ctx context.Context, email string, found ValidationError) error {
	check := newFieldCheck(found)
	if check.text("email", email, MaxEmailLength, true) {
		if _, ok := NormalizeEmail(email); !ok {
			check.errs.Add("email", MsgInvalidEmail)
		}
	}
	if err := check.err(); err != nil {
		return err
	}
	key := EmailKey(email)
	u, err := s.store.UserByEmailKey(ctx, key)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	now := s.now()
	code, digits := s.newResetCode(key, u.ID, now)
	var mail *Outgoing
	if known {
		mail = s.seal(resetMessage(u.Email, digits, s.cfg.CodeTTL))
		mail.CodeID = code.ID
	} else {
		code.UserID = ""
		code.Hash = randomBytes(sha256.Size) // matches no code
	}
	if err := s.store.AddResetCode(ctx, code, mail, s.cfg.CodesPerHour, now.Add(-time.Hour)); err != nil {
		return err
	}
	if !known {
		s.event(ctx, slog.LevelInfo, "reset requested for unknown email", "reset_request_unknown", "email_key_hash", redact(key))
		if s.cfg.RevealUnknownEmail {
			return ErrNotFound
		}
		return nil
	}
	s.mailed()
	s.event(ctx, slog.LevelInfo, "reset code sent", "reset_request", "user_id", u.ID)
	return nil
}

// VerifyResetCode checks a code without using it up. A wrong guess counts towards the code's
// attempt limit; every refusal is the same ValidationError on "otp". Fields that break their
// limits are a ValidationError with the problems a transport found (found, nil when none).
func (s *Service) VerifyResetCode(ctx context.Context, email, otp string, found ValidationError) error {
	if err := checkCodeFields(email, otp, found).err(); err != nil {
		return err
	}
	code, err := s.checkCode(ctx, email, otp)
	if err != nil {
		return err
	}
	return s.store.RefundResetAttempt(ctx, code.ID)
}

// ConfirmReset sets a new password with a code: the code is used up, the email counts as
// verified, Google identities linked while it was unproven are removed, and every sign-in of the
// user is revoked, so their access tokens stop verifying. A bad code is the ValidationError on
// "otp", judged first; with the right code, a password that breaks the rules is a ValidationError
// on "password" and costs no attempt. Fields that break their limits are a ValidationError with
// the problems a transport found (found, nil when none), before anything else.
func (s *Service) ConfirmReset(ctx context.Context, email, otp, password string, found ValidationError) error {
	check := checkCodeFields(email, otp, found)
	check.text("password", password, MaxPasswordLength, true)
	if err := check.err(); err != nil {
		return err
	}
	// The code first: until it is right, the answer must not depend on the account (its
	// existence, or its names through the similarity rule).
	code, err := s.checkCode(ctx, email, otp)
	if err != nil {
		return err
	}
	refund := func() {
		if err := s.store.RefundResetAttempt(ctx, code.ID); err != nil {
			s.log.Error("refund code attempt", "err", err)
		}
	}
	u, err := s.store.UserByEmailKey(ctx, EmailKey(email))
	if err != nil {
		refund()
		if errors.Is(err, ErrNotFound) { // the account went since the code was made
			return errInvalidCode
		}
		return err
	}
	// A password the rules refuse costs no attempt: the person only has to choose another.
	if problems := passwordProblems(password, s.cfg.MinPasswordLength, u.FirstName, u.LastName, u.Email); len(problems) > 0 {
		refund()
		return ValidationError{"password": problems}
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		refund()
		return err
	}
	// Proving the address removes what someone else may have added while it was unproven.
	change := AccountChange{UserID: code.UserID, At: s.now(), SetPassword: true, PasswordHash: hash, VerifyEmail: true,
		DropUnprovenSocial: true, RevokeSessions: true, Mail: s.seal(passwordChangedMessage(u.Email))}
	if err := s.store.ResetPassword(ctx, code.ID, change); err != nil {
		if errors.Is(err, ErrNotFound) { // a concurrent confirm used the code first
			return errInvalidCode
		}
		return err
	}
	s.mailed()
	s.clearLoginFailures(ctx, EmailKey(email))
	s.event(ctx, slog.LevelInfo, "password reset", "reset_confirm", "user_id", code.UserID)
	return nil
}

// checkCodeFields checks the limits of the fields that name a code.
func checkCodeFields(email, otp string, found ValidationError) fieldCheck {
	check := newFieldCheck(found)
	check.text("email", email, MaxEmailLength, true)
	check.text("otp", otp, MaxCodeLength, true)
	return check
}

// checkCode counts an attempt against the newest code for email, then compares in constant time.
func (s *Service) checkCode(ctx context.Context, email, otp string) (ResetCode, error) {
	key := EmailKey(email)
	code, err := s.store.ClaimResetCode(ctx, key, s.now(), s.cfg.CodeAttempts)
	if errors.Is(err, ErrNotFound) {
		s.event(ctx, slog.LevelInfo, "reset code refused", "reset_code_failed", "email_key_hash", redact(key))
		return code, errInvalidCode
	}
	if err != nil {
		return code, err
	}
	if code.UserID == "" || !hmac.Equal(code.Hash, s.codeHash(code.ID, otp)) {
		s.event(ctx, slog.LevelInfo, "reset code refused", "reset_code_failed", "user_id", code.UserID)
		return code, errInvalidCode
	}
	return code, nil
}

// newResetCode draws six uniform digits from crypto/rand and returns the code's record (holding
// only their HMAC) and the digits, which go nowhere but the email.
func (s *Service) newResetCode(emailKey, userID string, now time.Time) (ResetCode, string) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	digits := fmt.Sprintf("%06d", n.Int64())
	c := ResetCode{ID: newID(), EmailKey: emailKey, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL)}
	c.Hash = s.codeHash(c.ID, digits)
	return c, digits
}

func (s *Service) codeHash(codeID, digits string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte(codeID))
	m.Write([]byte{0})
	m.Write([]byte(digits))
	return m.Sum(nil)
}

// redact returns a short, stable digest of an identifier that should not be logged as is.
func redact(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
