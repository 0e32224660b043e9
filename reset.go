package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
)

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
	// A disabled account gets no code, as Django mailed only active users; the answer is an
	// active account's, so it tells nothing more.
	quiet := known && !u.Active
	now := s.now()
	code := s.decoyCode(CodeReset, key, now)
	var mail *Outgoing
	if known && !quiet {
		var digits string
		code, digits = s.newCode(CodeReset, key, u.ID, now)
		mail = s.sealCode(u.ID, code, resetMessage(u.Email, digits, s.cfg.CodeTTL))
	}
	var ev AuditEvent // an unknown email is no account's event
	if known {
		ev = s.auditEvent(ctx, "reset_request", "user_id", u.ID)
	}
	if err := s.store.AddCode(ctx, code, mail, s.cfg.CodesPerHour, now.Add(-time.Hour), ev); err != nil {
		return err
	}
	if !known {
		s.event(ctx, slog.LevelInfo, "reset requested for unknown email", "reset_request_unknown", "email_key_hash", redact(key))
		if s.cfg.RevealUnknownEmail {
			return ErrNotFound
		}
		return nil
	}
	if quiet {
		s.event(ctx, slog.LevelInfo, "reset requested for a disabled account: no code sent", "reset_request", "user_id", u.ID)
		return nil
	}
	s.mailed()
	s.logged(ctx, slog.LevelInfo, "reset code sent", ev)
	return nil
}

// VerifyResetCode checks a code without using it up. A wrong guess counts towards the code's
// attempt limit; every refusal is the same ValidationError on "otp". Fields that break their
// limits are a ValidationError with the problems a transport found (found, nil when none).
func (s *Service) VerifyResetCode(ctx context.Context, email, otp string, found ValidationError) error {
	if err := checkCodeFields(email, otp, found).err(); err != nil {
		return err
	}
	code, err := s.checkCode(ctx, CodeOwner{Purpose: CodeReset, EmailKey: EmailKey(email)}, otp)
	if err != nil {
		return err
	}
	return s.store.RefundCodeAttempt(ctx, code.ID)
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
	code, err := s.checkCode(ctx, CodeOwner{Purpose: CodeReset, EmailKey: EmailKey(email)}, otp)
	if err != nil {
		return err
	}
	refund := func() { s.refundCode(ctx, code) }
	u, err := s.store.UserByEmailKey(ctx, EmailKey(email))
	if err == nil && (u.ID != code.UserID || !u.Active) {
		err = ErrNotFound // the address moved to another account since the code was mailed, or it was disabled
	}
	if err != nil {
		refund()
		if errors.Is(err, ErrNotFound) { // the account went, or left the address, since the code was made
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
		DropUnprovenSocial: true, RevokeSessions: true, Mail: s.seal(u.ID, passwordChangedMessage(u.Email))}
	ev := s.auditEvent(ctx, "reset_confirm", "user_id", code.UserID)
	change.Audit = []AuditEvent{ev}
	if err := s.store.UseCode(ctx, code.ID, change); err != nil {
		if errors.Is(err, ErrNotFound) { // a concurrent confirm used the code first
			return errInvalidCode
		}
		return err
	}
	s.mailed()
	s.clearLoginFailures(ctx, EmailKey(email))
	s.logged(ctx, slog.LevelInfo, "password reset", ev)
	return nil
}

// checkCodeFields checks the limits of the fields that name a code.
func checkCodeFields(email, otp string, found ValidationError) fieldCheck {
	check := newFieldCheck(found)
	check.text("email", email, MaxEmailLength, true)
	check.text("otp", otp, MaxCodeLength, true)
	return check
}

// redact returns a short, stable digest of an identifier that should not be logged as is.
func redact(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
