package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SocialLink is a provider identity linked to an account.
type SocialLink struct {
	Provider string
	Subject  string
	// EmailVerified says the provider vouched for the account's email when it was linked.
	// Proving the email later removes the links that lack it.
	EmailVerified bool
	At            time.Time
}

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
	// HostedDomain is Google's hd claim: the Google Workspace domain the account belongs to, for
	// which Google is authoritative.
	HostedDomain string
	FirstName    string
	LastName     string
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

// maxSubjectLength bounds a provider's subject; Google's are 21 digits.
const maxSubjectLength = 255

// SignInWithProvider signs in the person a provider credential identifies. A new identity gets a
// new account (created is true), or is linked to the account with its email when the provider
// is authoritative for that email. It returns ErrNotFound for a provider that is not configured.
// An account with two-factor sign-in on needs otp too, as Login does.
func (s *Service) SignInWithProvider(ctx context.Context, provider, credential string, otp *string) (pair TokenPair, created bool, err error) {
	p, ok := s.providers[provider]
	if !ok {
		return TokenPair{}, false, ErrNotFound
	}
	id, err := p.Identify(ctx, credential)
	if err == nil && (id.Subject == "" || len(id.Subject) > maxSubjectLength || HasControlCharacters(id.Subject) || !utf8.ValidString(id.Subject)) {
		err = fmt.Errorf("%w: unusable subject", ErrSocialRejected)
	}
	if err != nil {
		s.event(ctx, slog.LevelInfo, "social sign-in refused", "social_failed", "provider", provider, "err", err)
		return TokenPair{}, false, err
	}
	// Each turn reads the identity's account, and makes or links one when there is none; a lost
	// race, or credentials that changed under the sign-in, read again.
	for range 4 {
		u, err := s.store.UserBySocial(ctx, provider, id.Subject)
		if errors.Is(err, ErrNotFound) {
			u, err = s.adoptEmailLink(ctx, provider, id)
		}
		switch {
		case err == nil:
			if !u.Active {
				return TokenPair{}, false, ErrInvalidCredentials
			}
			pair, err := s.secondStep(ctx, u, s.now(), amrGoogle, otp, false, "method", provider)
			if errors.Is(err, ErrConflict) {
				continue
			}
			return pair, created, err
		case !errors.Is(err, ErrNotFound):
			return TokenPair{}, false, err
		}
		made, err := s.adoptIdentity(ctx, provider, id)
		created = created || made
		if err != nil && !errors.Is(err, ErrConflict) {
			return TokenPair{}, false, err
		}
	}
	return TokenPair{}, false, ErrConflict
}

// adoptEmailLink finds the account an imported link names by email (python-social-auth can be
// configured to use the email as Google's uid) and re-keys the link to the identity's subject,
// when Google is authoritative for that email; otherwise ErrNotFound.
func (s *Service) adoptEmailLink(ctx context.Context, provider string, id SocialIdentity) (User, error) {
	email, ok := NormalizeEmail(id.Email)
	if !ok || !googleAuthoritative(id, email) {
		return User{}, ErrNotFound
	}
	u, err := s.store.UserBySocial(ctx, provider, EmailKey(email))
	if err != nil {
		return u, err
	}
	ev := s.auditEvent(ctx, "social_link", "provider", provider, "user_id", u.ID, "rekeyed", true)
	if err := s.store.RekeySocial(ctx, provider, EmailKey(email), id.Subject, ev); err != nil {
		return User{}, err
	}
	s.logged(ctx, slog.LevelInfo, "imported social link re-keyed from email to subject", ev)
	return u, nil
}

// googleAuthoritative reports whether Google vouches for email: it says the address is verified,
// and it is a Gmail address or the account belongs to a Workspace domain. Only then may the
// identity take over an existing account with that email.
func googleAuthoritative(id SocialIdentity, email string) bool {
	return id.EmailVerified && (strings.HasSuffix(EmailKey(email), "@gmail.com") || id.HostedDomain != "")
}

// adoptIdentity links a new identity to the account with its email, or makes an account for it,
// and reports whether it made one.
func (s *Service) adoptIdentity(ctx context.Context, provider string, id SocialIdentity) (bool, error) {
	email, ok := NormalizeEmail(id.Email)
	if !ok {
		return false, ErrSocialNoEmail
	}
	now := s.now()
	// The link counts as proven only where Google is authoritative for the address: a personal
	// Google account made with another address may have verified it long ago, and the address
	// may have changed hands since. The owner proving the address later removes it.
	link := SocialLink{Provider: provider, Subject: id.Subject, EmailVerified: googleAuthoritative(id, email), At: now}
	existing, err := s.store.UserByEmailKey(ctx, EmailKey(email))
	if err == nil {
		if !googleAuthoritative(id, email) {
			s.event(ctx, slog.LevelWarn, "social link refused: the provider is not authoritative for the email", "social_link_refused",
				"provider", provider, "user_id", existing.ID, "email_verified", id.EmailVerified)
			return false, ErrSocialUnverifiedEmail
		}
		// The provider proves the address: what someone else may have added while it was unproven
		// goes, with every sign-in, since any may have come from it. An account whose email was
		// never proven loses its password, which whoever set it may not own the address for.
		links, err := s.store.SocialLinks(ctx, existing.ID)
		if err != nil {
			return false, err
		}
		unproven := slices.ContainsFunc(links, func(l SocialLink) bool { return !l.EmailVerified })
		change := AccountChange{UserID: existing.ID, At: now, VerifyEmail: true, DropUnprovenSocial: unproven,
			RevokeSessions: unproven || !existing.EmailVerified}
		if !existing.EmailVerified {
			change.SetPassword, change.PasswordHash = true, ""
		}
		ev := s.auditEvent(ctx, "social_link", "provider", provider, "user_id", existing.ID,
			"password_removed", change.SetPassword && existing.PasswordHash != "")
		change.Audit = []AuditEvent{ev}
		if err := s.store.LinkSocial(ctx, link, change); err != nil {
			return false, err
		}
		s.logged(ctx, slog.LevelInfo, "social identity linked", ev)
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	u := User{ID: uuid.NewString(), FirstName: profileName(id.FirstName), LastName: profileName(id.LastName),
		Email: email, EmailVerified: id.EmailVerified, Active: true, DateJoined: now}
	ev := s.auditEvent(ctx, "register", "method", provider, "user_id", u.ID)
	if err := s.store.CreateSocialUser(ctx, u, link, ev); err != nil {
		if errors.Is(err, ErrEmailTaken) { // the email was registered meanwhile
			return false, ErrConflict
		}
		return false, err
	}
	s.logged(ctx, slog.LevelInfo, "user registered", ev)
	return true, nil
}

// profileName makes a name from a provider's profile fit the account rules: control characters
// dropped, spaces trimmed, at most MaxNameLength characters.
func profileName(name string) string {
	return truncate(strings.TrimSpace(dropControlCharacters(strings.ToValidUTF8(name, ""))), MaxNameLength)
}
