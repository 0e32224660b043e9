package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// ErrEmailNotVerified is a correct sign-in refused because the account has not proven its
// address while AUTH_EMAIL_VERIFICATION is "required".
var ErrEmailNotVerified = errors.New("email address is not verified")

// VerifyEmail proves an account's address with the code mailed to it. Every refusal is the
// ValidationError on "otp" that a wrong reset code gets. Proving the address removes the Google
// identities linked without it, and then every sign-in, as a confirmed reset does.
func (s *Service) VerifyEmail(ctx context.Context, email, otp string, found ValidationError) error {
	if err := checkCodeFields(email, otp, found).err(); err != nil {
		return err
	}
	key := EmailKey(email)
	code, err := s.checkCode(ctx, CodeOwner{Purpose: CodeVerify, EmailKey: key}, otp)
	if err != nil {
		return err
	}
	u, err := s.store.UserByEmailKey(ctx, key)
	if err == nil && u.ID != code.UserID {
		err = ErrNotFound
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) { // the account went, or left the address, since the code was mailed
			return errInvalidCode
		}
		s.refundCode(ctx, code)
		return err
	}
	links, err := s.store.SocialLinks(ctx, u.ID)
	if err != nil {
		s.refundCode(ctx, code)
		return err
	}
	unproven := slices.ContainsFunc(links, func(l SocialLink) bool { return !l.EmailVerified })
	ev := s.auditEvent(ctx, "email_verified", "user_id", u.ID, "unproven_links_removed", unproven)
	change := AccountChange{UserID: u.ID, At: s.now(), VerifyEmail: true, DropUnprovenSocial: unproven, RevokeSessions: unproven,
		Audit: []AuditEvent{ev}}
	if err := s.store.UseCode(ctx, code.ID, change); err != nil {
		if errors.Is(err, ErrNotFound) { // a concurrent request used the code first
			return errInvalidCode
		}
		return err
	}
	s.logged(ctx, slog.LevelInfo, "email verified", ev)
	return nil
}

// ResendVerification mails a new verification code to the account with that email, if it has
// not proven it yet. An unknown or verified address gets the same answer and no email, and is
// counted against the same hourly cap (*ThrottledError past it), so the answer tells nothing.
func (s *Service) ResendVerification(ctx context.Context, email string, found ValidationError) error {
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
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	pending := err == nil && !u.EmailVerified && u.Active
	now := s.now()
	code := s.decoyCode(CodeVerify, key, now)
	var mail *Outgoing
	if pending {
		var digits string
		code, digits = s.newCode(CodeVerify, key, u.ID, now)
		mail = s.sealCode(u.ID, code, verificationMessage(u.Email, digits, s.cfg.CodeTTL))
	}
	if err := s.store.AddCode(ctx, code, mail, s.cfg.CodesPerHour, now.Add(-time.Hour)); err != nil {
		return err
	}
	if pending {
		s.mailed()
		s.event(ctx, slog.LevelInfo, "verification code sent", "email_verification_sent", "user_id", u.ID)
	}
	return nil
}

// RequestEmailChange mails a code to the address the caller's account is to move to, after
// checking the account's password (a wrong one is a ValidationError on "password" and counts as
// a failed sign-in). An address that is invalid or already an account's is a ValidationError on
// "email".
func (s *Service) RequestEmailChange(ctx context.Context, c Caller, email string, password *string, found ValidationError) error {
	u, err := s.caller(ctx, c)
	if err != nil {
		return err
	}
	check := newFieldCheck(found)
	if check.text("email", email, MaxEmailLength, true) {
		if err := s.checkNewEmail(ctx, check, email); err != nil {
			return err
		}
	}
	if err := s.confirmPassword(ctx, check, u, "password", password, MsgIncorrectPassword); err != nil {
		return err
	}
	if err := check.err(); err != nil {
		return err
	}
	newEmail, _ := NormalizeEmail(email)
	now := s.now()
	code, digits := s.newCode(CodeEmailChange, EmailKey(newEmail), u.ID, now)
	code.NewEmail = newEmail
	mail := s.sealCode(u.ID, code, emailChangeMessage(newEmail, digits, s.cfg.CodeTTL))
	if err := s.store.AddCode(ctx, code, mail, s.cfg.CodesPerHour, now.Add(-time.Hour)); err != nil {
		return err
	}
	s.mailed()
	s.event(ctx, slog.LevelInfo, "email change requested", "email_change_request", "user_id", u.ID)
	return nil
}

// ConfirmEmailChange moves the caller's account to the address its newest email-change code
// was mailed to, verified, and tells the old address. A bad code is the ValidationError on
// "otp"; an address that became another account's since it was asked for is the one on "email".
func (s *Service) ConfirmEmailChange(ctx context.Context, c Caller, otp string, found ValidationError) (Profile, error) {
	u, err := s.caller(ctx, c)
	if err != nil {
		return Profile{}, err
	}
	check := newFieldCheck(found)
	check.text("otp", otp, MaxCodeLength, true)
	if err := check.err(); err != nil {
		return Profile{}, err
	}
	code, err := s.checkCode(ctx, CodeOwner{Purpose: CodeEmailChange, UserID: u.ID}, otp)
	if err != nil {
		return Profile{}, err
	}
	taken := ValidationError{"email": {MsgEmailTaken}}
	if _, err := s.store.UserByEmailKey(ctx, EmailKey(code.NewEmail)); err == nil {
		s.refundCode(ctx, code)
		return Profile{}, taken
	} else if !errors.Is(err, ErrNotFound) {
		s.refundCode(ctx, code)
		return Profile{}, err
	}
	// The old address's codes die with the move: a reset code mailed there must not work for
	// whoever gets that address next.
	change := AccountChange{UserID: u.ID, At: s.now(), SetEmail: code.NewEmail, VerifyEmail: true, CancelCodes: true,
		Mail: s.seal(u.ID, emailChangedMessage(u.Email, code.NewEmail))}
	ev := s.auditEvent(ctx, "email_change", "user_id", u.ID)
	change.Audit = []AuditEvent{ev}
	if err := s.store.UseCode(ctx, code.ID, change); err != nil {
		switch {
		case errors.Is(err, ErrEmailTaken): // registered between the check and the change
			s.refundCode(ctx, code)
			return Profile{}, taken
		case errors.Is(err, ErrNotFound):
			return Profile{}, errInvalidCode
		}
		return Profile{}, err
	}
	s.mailed()
	s.clearLoginFailures(ctx, EmailKey(u.Email))
	s.logged(ctx, slog.LevelInfo, "email changed", ev)
	return s.Profile(ctx, c)
}

// MaskEmail names an address only partly: its first character, then "***", then the domain
// (n***@example.com).
func MaskEmail(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	first := ""
	for _, r := range local {
		first = string(r)
		break
	}
	return first + "***@" + domain
}
