package auth

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Social sign-in failures.
var (
	// ErrSocialRejected is a credential the provider refused: an unknown or used code, an invalid
	// access token, a bad ID token.
	ErrSocialRejected = errors.New("social credential rejected")
	// ErrSocialUnavailable means the provider could not be reached, or answered too slowly.
	ErrSocialUnavailable = errors.New("social provider unavailable")
	// ErrSocialNoEmail is an identity that does not share an email address.
	ErrSocialNoEmail = errors.New("the provider shared no email address")
	// ErrSocialUnverifiedEmail is a new identity whose email belongs to an existing account while
	// the provider does not vouch for the email: linking it would hand the account over.
	ErrSocialUnverifiedEmail = errors.New("email not verified by the provider")
)

// SocialIdentity is who a provider says the person is. Subject is the provider's stable id for
// them: the identity key, never the email, which can change hands.
type SocialIdentity struct {
	Subject       string
	Email         string
	EmailVerified bool
	FirstName     string
	LastName      string
}

// SocialProvider turns what a front end got from a provider into a verified identity. It returns
// ErrSocialRejected or ErrSocialUnavailable.
type SocialProvider interface {
	Identify(ctx context.Context, credential string) (SocialIdentity, error)
}

// HasProvider reports whether the social sign-in backend of that name is configured.
func (s *Service) HasProvider(name string) bool {
	_, ok := s.providers[name]
	return ok
}

// SignInWithProvider signs in the person a provider credential identifies. A new identity gets a
// new account (created is true), or is linked to the account with its email when the provider
// has verified that email. It returns ErrNotFound for a provider that is not configured.
func (s *Service) SignInWithProvider(ctx context.Context, provider, credential string) (pair TokenPair, created bool, err error) {
	p, ok := s.providers[provider]
	if !ok {
		return TokenPair{}, false, ErrNotFound
	}
	id, err := p.Identify(ctx, credential)
	if err != nil {
		s.log.Info("social sign-in refused", "event", "social_failed", "provider", provider, "err", err)
		return TokenPair{}, false, err
	}
	for range 3 { // a lost race for the same identity re-reads it
		u, err := s.store.UserBySocial(ctx, provider, id.Subject)
		switch {
		case err == nil:
			if !u.Active {
				return TokenPair{}, false, ErrInvalidCredentials
			}
			pair, err := s.startSession(ctx, u.ID, s.now())
			if err == nil {
				s.log.Info("signed in", "event", "login", "method", provider, "user_id", u.ID)
			}
			return pair, false, err
		case !errors.Is(err, ErrNotFound):
			return TokenPair{}, false, err
		}
		u, created, err = s.adoptIdentity(ctx, provider, id)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return TokenPair{}, false, err
		}
		// The sign-in starts now, after the link: a link that removed a password moved the
		// account's password change to a moment a session from before it would not survive.
		pair, err := s.startSession(ctx, u.ID, s.now())
		return pair, created, err
	}
	return TokenPair{}, false, ErrConflict
}

// adoptIdentity links a new identity to the account with its email, or makes an account for it.
func (s *Service) adoptIdentity(ctx context.Context, provider string, id SocialIdentity) (User, bool, error) {
	email, ok := NormalizeEmail(id.Email)
	if !ok {
		return User{}, false, ErrSocialNoEmail
	}
	existing, err := s.store.UserByEmailKey(ctx, EmailKey(email))
	if err == nil {
		if !id.EmailVerified {
			s.log.Warn("social link refused: email not verified by the provider", "event", "social_link_refused", "provider", provider, "user_id", existing.ID)
			return User{}, false, ErrSocialUnverifiedEmail
		}
		// The account's own email was never proven: whoever set its password may not own the
		// address. The provider has now proven it, so that password (and its sessions) goes.
		takeover := !existing.EmailVerified
		if err := s.store.LinkSocial(ctx, existing.ID, provider, id.Subject, takeover, s.now()); err != nil {
			return User{}, false, err
		}
		s.log.Info("social identity linked", "event", "social_link", "provider", provider, "user_id", existing.ID, "password_removed", takeover)
		return existing, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return User{}, false, err
	}
	u := User{ID: uuid.NewString(), FirstName: clip(id.FirstName, MaxNameLength), LastName: clip(id.LastName, MaxNameLength),
		Email: email, EmailVerified: id.EmailVerified, Active: true, DateJoined: s.now()}
	if err := s.store.CreateSocialUser(ctx, u, provider, id.Subject); err != nil {
		var taken ValidationError
		if errors.As(err, &taken) { // the email was registered meanwhile
			return User{}, false, ErrConflict
		}
		return User{}, false, err
	}
	s.log.Info("user registered", "event", "register", "method", provider, "user_id", u.ID)
	return u, true, nil
}

// clip shortens s to at most n characters.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
