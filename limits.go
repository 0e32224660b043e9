package auth

import (
	"context"
	"log/slog"
)

// The abuse limits of the contract, "Abuse limits", but for the hourly cap on codes, which the
// store counts in the transaction that adds a code (AddCode):
//   - failed sign-ins per email (LoginFailureLimit in LoginFailureWindow), counted before the
//     password is judged, in a limiter every instance shares (Redis, or the database);
//   - credential requests per client address (IPRateLimit in IPRateWindow), counted by the
//     transport's call to AdmitClient, in memory or Redis: every credential request hits it,
//     those it refuses included, so it must cost no database write.

// loginFailuresKey is the limiter's key for the failed sign-ins of an email key.
func loginFailuresKey(emailKey string) string { return "login-failures:" + emailKey }

func (s *Service) loginLimitOn() bool { return s.cfg.LoginFailureLimit > 0 && s.limiter != nil }

// countLoginAttempt counts one sign-in attempt for the email key, and returns a *ThrottledError
// once the attempts in the window pass the limit.
//
// Every refused attempt is logged; the audit log keeps one login_locked row per window of an
// email, so that attempts at a locked email (which cost no hashing) cannot fill it.
func (s *Service) countLoginAttempt(ctx context.Context, emailKey, userID string) error {
	if !s.loginLimitOn() {
		return nil
	}
	ok, retry, err := s.limiter.Hit(ctx, loginFailuresKey(emailKey), s.cfg.LoginFailureLimit, s.cfg.LoginFailureWindow)
	if err != nil {
		return err
	}
	if !ok {
		attrs := []any{"email_key_hash", redact(emailKey)}
		if userID != "" {
			attrs = append([]any{"user_id", userID}, attrs...)
		}
		s.log.Log(ctx, slog.LevelWarn, "sign-in locked", s.eventAttrs(ctx, "login_locked", attrs)...)
		if first, _, err := s.limiter.Hit(ctx, "login-locked-audited:"+emailKey, 1, retry); err == nil && first {
			s.writeAudit(ctx, s.auditEvent(ctx, "login_locked", attrs...))
		}
		return &ThrottledError{RetryAfter: retry}
	}
	return nil
}

// uncountLoginAttempt takes back the attempt countLoginAttempt counted, when it was no failure.
func (s *Service) uncountLoginAttempt(ctx context.Context, emailKey string) {
	if !s.loginLimitOn() {
		return
	}
	if err := s.limiter.Unhit(ctx, loginFailuresKey(emailKey)); err != nil {
		s.log.Error("uncount sign-in attempt", "err", err)
	}
}

// clearLoginFailures forgets the failed sign-ins of an email key: after a correct password, or
// once the password was reset.
func (s *Service) clearLoginFailures(ctx context.Context, emailKey string) {
	if !s.loginLimitOn() {
		return
	}
	if err := s.limiter.Reset(ctx, loginFailuresKey(emailKey)); err != nil {
		s.log.Error("reset sign-in failures", "err", err)
	}
}

// AdmitClient counts one credential request of the client ctx carries (see WithClient) and
// returns a *ThrottledError past IPRateLimit in the window. The transport calls it before it
// reads the request.
func (s *Service) AdmitClient(ctx context.Context) error {
	if s.cfg.IPRateLimit <= 0 || s.clientLimiter == nil {
		return nil
	}
	ip := ClientFrom(ctx).IP
	ok, retry, err := s.clientLimiter.Hit(ctx, "ip:"+ip, s.cfg.IPRateLimit, s.cfg.IPRateWindow)
	if err != nil {
		return err
	}
	if !ok {
		s.event(ctx, slog.LevelWarn, "client address throttled", "ip_throttled")
		return &ThrottledError{RetryAfter: retry}
	}
	return nil
}
