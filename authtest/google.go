package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GoogleUser is a person as the fake Google knows them.
type GoogleUser struct {
	Sub, Email            string
	EmailVerified         bool
	GivenName, FamilyName string
	Name                  string
	HostedDomain          string // the hd claim of a Google Workspace account; "" for none
}

// FakeGoogle stands in for Google's OAuth endpoints: a token endpoint that exchanges one-time
// codes, userinfo and tokeninfo for access tokens, and a JWKS for the RS256 keys it signs ID
// tokens with. It runs on a loopback port.
type FakeGoogle struct {
	URL      string
	ClientID string
	Secret   string
	now      func() time.Time
	server   *httptest.Server

	mu        sync.Mutex
	key       *rsa.PrivateKey
	kid       string
	codes     map[string]GoogleUser
	tokens    map[string]GoogleUser
	foreign   map[string]bool // access tokens issued to another app
	exchanges []url.Values
	hang      chan struct{} // non-nil while hanging; closed to release held requests
	serial    int           // numbers key ids
}

// StartGoogle starts a fake Google for the client id, reading time from now.
func StartGoogle(t testing.TB, clientID string, now func() time.Time) *FakeGoogle {
	g := &FakeGoogle{ClientID: clientID, Secret: "test-secret", now: now,
		codes: map[string]GoogleUser{}, tokens: map[string]GoogleUser{}, foreign: map[string]bool{}}
	g.RotateKey()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", g.token)
	mux.HandleFunc("GET /userinfo", g.userinfo)
	mux.HandleFunc("POST /tokeninfo", g.tokeninfo)
	mux.HandleFunc("GET /jwks", g.jwks)
	g.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hang := g.hang
		g.mu.Unlock()
		if hang != nil {
			io.Copy(io.Discard, r.Body) // so the server notices when the client gives up
			select {
			case <-r.Context().Done():
			case <-hang:
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	g.URL = g.server.URL
	t.Cleanup(g.Close)
	return g
}

// Close stops the fake: connections are refused from then on.
func (g *FakeGoogle) Close() {
	g.SetHang(false)
	g.server.Close()
}

// SetHang makes every endpoint hold requests without answering, like a Google that is down.
func (g *FakeGoogle) SetHang(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case on && g.hang == nil:
		g.hang = make(chan struct{})
	case !on && g.hang != nil:
		close(g.hang)
		g.hang = nil
	}
}

// RotateKey replaces the signing key with a new one under a new kid.
func (g *FakeGoogle) RotateKey() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.serial++
	g.key, g.kid = key, "google-key-"+string(rune('a'+g.serial))
}

func (g *FakeGoogle) next(prefix string) string { return prefix + rand.Text() }

// Code issues a one-time authorization code for u.
func (g *FakeGoogle) Code(u GoogleUser) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.next("4/0A")
	g.codes[c] = u
	return c
}

// AccessToken issues an access token for u; prefix "ya29." is what Google's look like.
func (g *FakeGoogle) AccessToken(u GoogleUser, prefix string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.next(prefix)
	g.tokens[t] = u
	return t
}

// ForeignAccessToken issues an access token for u that was granted to another app.
func (g *FakeGoogle) ForeignAccessToken(u GoogleUser) string {
	t := g.AccessToken(u, "ya29.")
	g.mu.Lock()
	g.foreign[t] = true
	g.mu.Unlock()
	return t
}

// Exchanges returns the forms posted to the token endpoint.
func (g *FakeGoogle) Exchanges() []url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]url.Values(nil), g.exchanges...)
}

// IDToken signs an ID token for u, valid for an hour; change edits its claims first.
func (g *FakeGoogle) IDToken(u GoogleUser, change func(jwt.MapClaims)) string {
	now := g.now()
	c := jwt.MapClaims{"iss": g.URL, "aud": g.ClientID, "azp": g.ClientID, "sub": u.Sub, "email": u.Email,
		"email_verified": u.EmailVerified, "given_name": u.GivenName, "family_name": u.FamilyName, "name": u.Name,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if u.HostedDomain != "" {
		c["hd"] = u.HostedDomain
	}
	if change != nil {
		change(c)
	}
	g.mu.Lock()
	key, kid := g.key, g.kid
	g.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func (g *FakeGoogle) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	g.mu.Lock()
	g.exchanges = append(g.exchanges, r.PostForm)
	u, ok := g.codes[r.PostForm.Get("code")]
	delete(g.codes, r.PostForm.Get("code"))
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("client_id") != g.ClientID || r.PostForm.Get("client_secret") != g.Secret {
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" {
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"Bad Request"}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"access_token": g.AccessToken(u, "ya29."), "token_type": "Bearer",
		"expires_in": 3599, "scope": "openid email profile", "id_token": g.IDToken(u, nil)})
}

func (g *FakeGoogle) userinfo(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	u, ok := g.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_request","error_description":"Invalid Credentials"}`))
		return
	}
	info := map[string]any{"sub": u.Sub, "email": u.Email, "email_verified": u.EmailVerified,
		"given_name": u.GivenName, "family_name": u.FamilyName, "name": u.Name}
	if u.HostedDomain != "" {
		info["hd"] = u.HostedDomain
	}
	json.NewEncoder(w).Encode(info)
}

func (g *FakeGoogle) tokeninfo(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tok := r.PostForm.Get("access_token")
	g.mu.Lock()
	_, ok := g.tokens[tok]
	foreign := g.foreign[tok]
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"invalid_token"}`))
		return
	}
	aud := g.ClientID
	if foreign {
		aud = "someone-else.apps.googleusercontent.com"
	}
	json.NewEncoder(w).Encode(map[string]any{"aud": aud, "azp": aud, "expires_in": 3000})
}

func (g *FakeGoogle) jwks(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	pub, kid := g.key.PublicKey, g.kid
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}
