// Package google signs people in with Google: it turns whatever a front end got from Google (an
// authorization code, an access token or an ID token) into a verified identity.
package google

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	auth "github.com/authd/authd"
)

// Google's endpoints, the defaults of Config.
const (
	TokenURL    = "https://oauth2.googleapis.com/token"
	UserinfoURL = "https://openidconnect.googleapis.com/v1/userinfo"
	JWKSURL     = "https://www.googleapis.com/oauth2/v3/certs"
	Issuer      = "https://accounts.google.com"
	// TokeninfoURL says which app an access token was issued to.
	TokeninfoURL = "https://oauth2.googleapis.com/tokeninfo"
)

// Config is a Google OAuth client and the endpoints it talks to.
type Config struct {
	ClientID     string
	ClientSecret string
	RedirectURL  string // "postmessage" for Google's JavaScript popup flow
	TokenURL     string
	UserinfoURL  string
	JWKSURL      string
	Issuer       string
	// TokeninfoURL, when set, is asked which app an access token belongs to, and a token issued
	// to another app is refused. Without it, access tokens are taken on userinfo's word alone.
	TokeninfoURL string
	Timeout      time.Duration // for everything asked of Google during one sign-in
	Now          func() time.Time
}

// Provider identifies people with Google.
type Provider struct {
	cfg      Config
	client   *http.Client
	oauth    oauth2.Config
	keys     *keySet
	verifier *oidc.IDTokenVerifier
}

var _ auth.SocialProvider = (*Provider)(nil)

// New returns a Provider for cfg. It contacts nothing until the first sign-in.
func New(cfg Config) *Provider {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := &http.Client{Timeout: cfg.Timeout}
	keys := &keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), cfg.JWKSURL)}
	return &Provider{
		cfg:    cfg,
		client: client,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		keys: keys,
		verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
			ClientID: cfg.ClientID, SupportedSigningAlgs: []string{oidc.RS256}, SkipIssuerCheck: true, Now: cfg.Now,
		}),
	}
}

// Identify verifies credential, which may be an ID token, an authorization code or an access
// token, told apart by shape and by Google's answers. It returns auth.ErrSocialRejected or
// auth.ErrSocialUnavailable.
func (p *Provider) Identify(ctx context.Context, credential string) (auth.SocialIdentity, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	// No Google credential holds a control character, and one that did could not be sent in a
	// header: refused here, it is not mistaken for Google being unreachable.
	if credential == "" || len(credential) > 8192 || auth.HasControlCharacters(credential) {
		return auth.SocialIdentity{}, auth.ErrSocialRejected
	}
	if looksLikeJWT(credential) {
		return p.fromIDToken(ctx, credential)
	}
	if strings.HasPrefix(credential, "ya29.") { // Google's access tokens; never a code
		return p.fromAccessToken(ctx, credential)
	}
	id, err := p.fromCode(ctx, credential)
	if errors.Is(err, errUnknownCode) {
		// Not a code Google knows: perhaps an access token (the OAuth Playground shows one).
		return p.fromAccessToken(ctx, credential)
	}
	return id, err
}

var errUnknownCode = errors.New("unknown authorization code")

// fromCode exchanges an authorization code, once, and identifies its owner.
func (p *Provider) fromCode(ctx context.Context, code string) (auth.SocialIdentity, error) {
	tok, err := p.oauth.Exchange(oidc.ClientContext(ctx, p.client), code)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			if re.ErrorCode == "invalid_grant" {
				return auth.SocialIdentity{}, errUnknownCode
			}
			return auth.SocialIdentity{}, fmt.Errorf("%w: code exchange: %s", auth.ErrSocialRejected, re.ErrorCode)
		}
		return auth.SocialIdentity{}, unavailable("code exchange", err)
	}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		return p.fromIDToken(ctx, raw)
	}
	return p.userinfo(ctx, tok.AccessToken)
}

// fromAccessToken identifies the owner of an access token issued to this app.
func (p *Provider) fromAccessToken(ctx context.Context, token string) (auth.SocialIdentity, error) {
	if p.cfg.TokeninfoURL != "" {
		var info struct {
			Audience string `json:"aud"`
			Party    string `json:"azp"`
		}
		// Posted, so the token is in no URL (and so in no proxy's log).
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.TokeninfoURL,
			strings.NewReader(url.Values{"access_token": {token}}.Encode()))
		if err != nil {
			return auth.SocialIdentity{}, unavailable("tokeninfo", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := p.doJSON(req, &info); err != nil {
			return auth.SocialIdentity{}, err
		}
		if info.Audience != p.cfg.ClientID && info.Party != p.cfg.ClientID {
			return auth.SocialIdentity{}, fmt.Errorf("%w: access token issued to another app", auth.ErrSocialRejected)
		}
	}
	return p.userinfo(ctx, token)
}

func (p *Provider) userinfo(ctx context.Context, token string) (auth.SocialIdentity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.UserinfoURL, nil)
	if err != nil {
		return auth.SocialIdentity{}, unavailable("userinfo", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	var c claims
	if err := p.doJSON(req, &c); err != nil {
		return auth.SocialIdentity{}, err
	}
	return c.identity()
}

// doJSON sends req and decodes the answer into v. A 4xx answer means the credential was refused;
// no answer, or a 5xx, means Google is unavailable.
func (p *Provider) doJSON(req *http.Request, v any) error {
	res, err := p.client.Do(req)
	if err != nil {
		return unavailable("request", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 500:
		return unavailable("request", fmt.Errorf("status %d", res.StatusCode))
	case res.StatusCode >= 400:
		return fmt.Errorf("%w: status %d", auth.ErrSocialRejected, res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v); err != nil {
		return unavailable("response", err)
	}
	return nil
}

// fromIDToken verifies an OpenID Connect ID token: signature against Google's keys, audience,
// expiry and issuer.
func (p *Provider) fromIDToken(ctx context.Context, raw string) (auth.SocialIdentity, error) {
	var fetch fetchFailure
	tok, err := p.verifier.Verify(context.WithValue(ctx, fetchFailureKey{}, &fetch), raw)
	if err != nil {
		if fetch.failed() {
			return auth.SocialIdentity{}, unavailable("Google's keys", fetch.err)
		}
		return auth.SocialIdentity{}, fmt.Errorf("%w: ID token: %v", auth.ErrSocialRejected, err)
	}
	if tok.Issuer != p.cfg.Issuer && tok.Issuer != "accounts.google.com" {
		return auth.SocialIdentity{}, fmt.Errorf("%w: ID token issuer %q", auth.ErrSocialRejected, tok.Issuer)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return auth.SocialIdentity{}, fmt.Errorf("%w: ID token claims", auth.ErrSocialRejected)
	}
	c.Subject = tok.Subject
	return c.identity()
}

// claims are the profile fields of an ID token or a userinfo answer.
type claims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
	HostedDomain  string   `json:"hd"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Name          string   `json:"name"`
}

func (c claims) identity() (auth.SocialIdentity, error) {
	if c.Subject == "" {
		return auth.SocialIdentity{}, fmt.Errorf("%w: no subject", auth.ErrSocialRejected)
	}
	first, last := c.GivenName, c.FamilyName
	if first == "" && last == "" {
		first, last, _ = strings.Cut(strings.TrimSpace(c.Name), " ")
	}
	return auth.SocialIdentity{Subject: c.Subject, Email: c.Email, EmailVerified: bool(c.EmailVerified), HostedDomain: c.HostedDomain, FirstName: first, LastName: last}, nil
}

// flexBool reads a JSON boolean that some Google answers send as the string "true".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	*b = flexBool(s == "true")
	return nil
}

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", auth.ErrSocialUnavailable, what, err)
}

// looksLikeJWT reports whether s is three base64url segments whose first decodes to a JSON
// object: the shape of an ID token, never of a code or an access token.
func looksLikeJWT(s string) bool {
	head, rest, ok := strings.Cut(s, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	return err == nil && json.Valid(b) && strings.HasPrefix(strings.TrimSpace(string(b)), "{")
}

// keySet is go-oidc's remote key set (cached keys, refetched on an unknown kid) that also notes,
// for the request, when fetching the keys failed: go-oidc reports that only as text, and it
// decides between "Google is unavailable" (502) and "the token is bad" (400).
type keySet struct{ remote *oidc.RemoteKeySet }

type fetchFailureKey struct{}

type fetchFailure struct {
	mu  sync.Mutex
	err error
}

func (f *fetchFailure) failed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.err != nil }

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && strings.HasPrefix(err.Error(), "fetching keys") {
		if f, ok := ctx.Value(fetchFailureKey{}).(*fetchFailure); ok {
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
		}
	}
	return payload, err
}
