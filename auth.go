// Package auth is authd's domain: accounts, passwords, tokens, sign-in sessions and password
// reset codes. Every rule of the contract lives here, whatever the store or transport; the
// subpackages adapt it to the outside (HTTP, SQLite, SMTP).
package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config holds the Service's rules. Start from DefaultConfig; a limit of 0 turns that limit off.
type Config struct {
	Issuer             string
	Audience           string // the aud of access tokens, required when set
	AccessTTL          time.Duration
	RefreshTTL         time.Duration
	SessionMaxAge      time.Duration // a sign-in ends this long after it began, however often refreshed
	ReuseWindow        time.Duration // a used refresh token still yields its successor this long
	CodeTTL            time.Duration
	CodeAttempts       int  // wrong guesses that kill a code
	CodesPerHour       int  // codes per email address an hour
	RevealUnknownEmail bool // reset answers 404 for an email without an account
	PhoneRegion        string
	MinPasswordLength  int
	LoginFailureLimit  int // failed sign-ins per email in LoginFailureWindow
	LoginFailureWindow time.Duration
	IPRateLimit        int // credential requests per client address in IPRateWindow
	IPRateWindow       time.Duration
	EmailVerification  EmailVerification // what registration does about the address
	// LegacyJWTSecret is the original service's simplejwt HS256 key: its tokens (those with no
	// kid) are honoured for imported users while it is set (legacytoken.go).
	LegacyJWTSecret []byte
	LegacyJWTUntil  time.Time // the original's tokens are refused from then on; zero: no end
}

// EmailVerification is what registration with a password does about the address (the setting
// AUTH_EMAIL_VERIFICATION).
type EmailVerification string

const (
	// VerificationSend mails a verification code; signing in does not wait for it.
	VerificationSend EmailVerification = "send"
	// VerificationRequired mails one, and sign-in with a password refuses an unverified account
	// (after checking the password) with ErrEmailNotVerified.
	VerificationRequired EmailVerification = "required"
	// VerificationOff mails nothing.
	VerificationOff EmailVerification = "off"
)

// DefaultConfig is the contract's defaults.
func DefaultConfig() Config {
	return Config{
		Issuer:             "authd",
		AccessTTL:          5 * time.Minute,
		RefreshTTL:         24 * time.Hour,
		SessionMaxAge:      30 * 24 * time.Hour,
		ReuseWindow:        10 * time.Second,
		CodeTTL:            10 * time.Minute,
		CodeAttempts:       5,
		CodesPerHour:       5,
		RevealUnknownEmail: true,
		MinPasswordLength:  8,
		LoginFailureLimit:  10,
		LoginFailureWindow: 15 * time.Minute,
		IPRateLimit:        60,
		IPRateWindow:       time.Minute,
		EmailVerification:  VerificationSend,
	}
}

// Service is authd's flows: Register, Login, SignInWithProvider, Refresh, Verify, Logout,
// RequestReset, VerifyResetCode and ConfirmReset.
type Service struct {
	cfg     Config
	store   Store
	limiter Limiter
	// clientLimiter counts requests per client address (limits.go).
	clientLimiter Limiter
	hasher        *Hasher
	tokens        *tokenMaker
	now           func() time.Time
	log           *slog.Logger
	mailed        func() // tells the outbox sender there is mail

	providers map[string]SocialProvider // by backend name, e.g. "google-oauth2"

	keyring *keyring    // seals key material at rest
	codeKey []byte      // HMAC key for reset codes
	sealer  cipher.AEAD // seals outbox mail
}

// Deps are the parts a Service is built from. Store and Hasher are required; a nil Limiter
// turns the failed sign-in limit off, a nil ClientLimiter the per-address one; Now, Log and
// Mailed default to the clock, no log and nothing.
type Deps struct {
	Store         Store
	Limiter       Limiter // failed sign-ins: one every instance shares
	ClientLimiter Limiter // requests per client address: one that costs no database write
	Hasher        *Hasher
	Now           func() time.Time
	Log           *slog.Logger
	Mailed        func()
	// Providers are the social sign-in backends by name ("google-oauth2"); none by default.
	Providers map[string]SocialProvider
	// MasterKey (MasterKeySize random bytes) seals every key and secret the store keeps. Nil
	// keeps them in the clear: the development default.
	MasterKey []byte
}

// New returns a Service. On a fresh database it creates the first signing key and the secrets
// for codes and mail; every instance sharing the database ends up with the same ones. With a
// master key it stores them sealed, and seals in place any it finds in the clear. Stored material
// that is sealed under another master key, or when none is given, is ErrSealed.
func New(ctx context.Context, cfg Config, d Deps) (*Service, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Mailed == nil {
		d.Mailed = func() {}
	}
	s := &Service{cfg: cfg, store: d.Store, limiter: d.Limiter, clientLimiter: d.ClientLimiter, hasher: d.Hasher, now: d.Now, log: d.Log, mailed: d.Mailed,
		tokens: newTokenMaker(cfg.Issuer, cfg.Audience, d.Now), providers: d.Providers}
	var err error
	if s.keyring, err = newKeyring(d.MasterKey); err != nil {
		return nil, err
	}
	if err := s.ReloadKeys(ctx); err != nil {
		return nil, err
	}
	if s.codeKey, err = s.secret(ctx, "reset-code-hmac"); err != nil {
		return nil, fmt.Errorf("load code key: %w", err)
	}
	mailKey, err := s.secret(ctx, "outbox-aes-gcm")
	if err != nil {
		return nil, fmt.Errorf("load mail key: %w", err)
	}
	block, err := aes.NewCipher(mailKey)
	if err != nil {
		return nil, fmt.Errorf("mail key: %w", err)
	}
	if s.sealer, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("mail key: %w", err)
	}
	return s, nil
}

// ReloadKeys reads the signing and refresh keys from the store, creating the first of each if
// there is none. With a master key, keys stored in the clear are sealed in place; a key sealed
// under another master key, or when none is given, is ErrSealed.
func (s *Service) ReloadKeys(ctx context.Context) error {
	stored, err := loadOrCreate(ctx, s.store.SigningKeys, s.store.AddSigningKey, func() StoredKey {
		return s.keyring.storedSigningKey(NewSigningKey(1, s.now()))
	})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	keys, err := s.signingKeys(ctx, stored)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if stored, err = loadOrCreate(ctx, s.store.RefreshKeys, s.store.AddRefreshKey, func() StoredKey {
		return s.keyring.storedRefreshKey(NewRefreshKey(1, s.now()))
	}); err != nil {
		return fmt.Errorf("refresh keys: %w", err)
	}
	refresh, err := s.refreshKeys(ctx, stored)
	if err != nil {
		return fmt.Errorf("refresh keys: %w", err)
	}
	s.tokens.setKeys(keys, refresh, s.now())
	return nil
}

// loadOrCreate returns the stored keys, first storing the one first makes when there are none
// (of instances racing to do so, one wins and all load its key).
func loadOrCreate[K any](ctx context.Context, load func(context.Context) ([]K, error), add func(context.Context, K) error, first func() K) ([]K, error) {
	keys, err := load(ctx)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	if err := add(ctx, first()); err != nil {
		return nil, err
	}
	if keys, err = load(ctx); err == nil && len(keys) == 0 {
		err = errors.New("none stored")
	}
	return keys, err
}

// RotateKeys adds a signing key and a refresh key of the next generation. They are published
// (the signing key in the JWKS) and checked at once, and sign from activateAfter on, so that
// every instance (which reloads keys every minute) can check their tokens before any is issued.
// Older keys keep verifying the tokens they signed. With a master key both are stored sealed.
func (s *Service) RotateKeys(ctx context.Context, activateAfter time.Duration) (SigningKey, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	refresh, err := s.store.RefreshKeys(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	now := s.now()
	k := NewSigningKey(nextGeneration(len(keys), func() int { return keys[0].Generation }), now)
	k.ActivatesAt = now.Add(activateAfter)
	r := NewRefreshKey(nextGeneration(len(refresh), func() int { return refresh[0].Generation }), now)
	r.ActivatesAt = k.ActivatesAt
	if err := s.store.AddSigningKey(ctx, s.keyring.storedSigningKey(k)); err != nil {
		return SigningKey{}, err
	}
	if err := s.store.AddRefreshKey(ctx, s.keyring.storedRefreshKey(r)); err != nil {
		return SigningKey{}, err
	}
	if err := s.ReloadKeys(ctx); err != nil {
		return SigningKey{}, err
	}
	s.event(ctx, slog.LevelInfo, "signing and refresh keys added", "key_rotated", "kid", k.ID, "generation", k.Generation,
		"refresh_kid", r.ID, "activates_at", k.ActivatesAt)
	return k, nil
}

func nextGeneration(n int, newest func() int) int {
	if n == 0 {
		return 1
	}
	return newest() + 1
}

// JWKS returns the public keys that check authd's tokens.
func (s *Service) JWKS() []JWK { return s.tokens.jwks() }

// Ping reports whether the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
