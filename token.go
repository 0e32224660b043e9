package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey is a token signing key. The newest active generation signs; every kept key
// verifies, and is published, from the moment it is stored.
type SigningKey struct {
	ID          string
	Generation  int
	Private     ed25519.PrivateKey
	CreatedAt   time.Time
	ActivatesAt time.Time // it signs from then on; zero: at once
}

// RefreshKey is an HS256 secret that signs refresh tokens. They are read only by authd, so the
// secret is never published; like signing keys, the newest active generation signs and every kept
// one verifies.
type RefreshKey struct {
	ID          string
	Generation  int
	Secret      []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
}

// StoredKey is a signing or refresh key as the store keeps it. Material is opaque to the store:
// the key's seed or secret, sealed by the Service when it has a master key.
type StoredKey struct {
	ID          string
	Generation  int
	Material    []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiredAt   time.Time // zero while it verifies tokens; set by authd keys retire
}

// Token types, the token_type claim.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// MaxTokenLength bounds a token before any parsing: a real one is a few hundred bytes.
const MaxTokenLength = 4096

// TokenPair is what a sign-in or refresh returns.
type TokenPair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// claims are the JWT claims authd issues, in simplejwt's vocabulary. Times are whole seconds, so
// that every common verifier accepts a token the moment it is issued.
type claims struct {
	TokenType string           `json:"token_type"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"` // never issued; checked when present
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
	UserID    string           `json:"user_id"`
	Subject   string           `json:"sub"`
	SessionID string           `json:"sid,omitempty"` // absent only from refresh tokens issued before sid existed
	Issuer    string           `json:"iss"`
	Audience  jwt.ClaimStrings `json:"aud,omitempty"`
	AMR       []string         `json:"amr,omitempty"`

	keyID string // the kid that signed it, for tokens remembered in the verified cache
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// keySet is the keys, parsed once and swapped atomically when they change. Access tokens are
// signed with Ed25519 (published in the JWKS); refresh tokens with HS256 secrets that never leave
// authd. Refresh tokens issued before refresh keys existed were signed with Ed25519, and are
// still accepted until they expire.
type keySet struct {
	signing        SigningKey
	public         map[string]ed25519.PublicKey
	private        map[string]ed25519.PrivateKey
	refreshSigning string            // kid of the refresh key that signs
	refresh        map[string][]byte // every kept refresh secret by kid
}

// tokenMaker signs and checks authd's tokens. The parsers and the keys are built once; the hot
// path (Verify, Refresh) does a map lookup and one signature check.
type tokenMaker struct {
	issuer        string
	audience      string
	keys          atomic.Pointer[keySet]
	accessParser  *jwt.Parser
	refreshParser *jwt.Parser
	now           func() time.Time
	verified      verifiedCache
}

// verifiedCache remembers tokens known to be genuine, by their exact bytes: the tokens this
// process signed, and access tokens whose signature it has checked. A signature check is most of
// a verify's cost, and back ends verify one access token many times in its few minutes of life;
// a refresh token is usually presented to the instance that issued it. Expiry, type and the key
// are re-checked on every use, and the store is read as for any token, so remembering changes
// nothing but the cost. Bounded: two generations of verifiedCacheSize entries.
type verifiedCache struct {
	mu       sync.RWMutex
	cur, old map[string]*claims
}

const verifiedCacheSize = 10000

func (v *verifiedCache) get(raw string) *claims {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if c, ok := v.cur[raw]; ok {
		return c
	}
	return v.old[raw]
}

func (v *verifiedCache) put(raw string, c *claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur == nil || len(v.cur) >= verifiedCacheSize {
		v.old, v.cur = v.cur, make(map[string]*claims, verifiedCacheSize)
	}
	v.cur[raw] = c
}

func newTokenMaker(issuer, audience string, now func() time.Time) *tokenMaker {
	common := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuer(issuer), jwt.WithStrictDecoding(), jwt.WithTimeFunc(now)}
	access := append([]jwt.ParserOption{jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()})}, common...)
	if audience != "" {
		access = append(access, jwt.WithAudience(audience))
	}
	return &tokenMaker{
		issuer:       issuer,
		audience:     audience,
		now:          now,
		accessParser: jwt.NewParser(access...),
		refreshParser: jwt.NewParser(append([]jwt.ParserOption{
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg(), jwt.SigningMethodEdDSA.Alg()})}, common...)...),
	}
}

// setKeys installs keys and refresh keys, both newest generation first. The newest key already
// active at now signs (the oldest, if none is); every key verifies, and signing keys are published.
func (m *tokenMaker) setKeys(keys []SigningKey, refresh []RefreshKey, now time.Time) {
	ks := &keySet{signing: keys[len(keys)-1], public: map[string]ed25519.PublicKey{}, private: map[string]ed25519.PrivateKey{},
		refresh: map[string][]byte{}}
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		ks.public[k.ID] = k.Private.Public().(ed25519.PublicKey)
		ks.private[k.ID] = k.Private
		if !k.ActivatesAt.After(now) {
			ks.signing = k
		}
	}
	for i := len(refresh) - 1; i >= 0; i-- {
		k := refresh[i]
		ks.refresh[k.ID] = k.Secret
		if ks.refreshSigning == "" || !k.ActivatesAt.After(now) {
			ks.refreshSigning = k.ID
		}
	}
	m.keys.Store(ks)
}

func (m *tokenMaker) signingKeyID() string { return m.keys.Load().signing.ID }

func (m *tokenMaker) refreshKeyID() string { return m.keys.Load().refreshSigning }

// token is what a minted token says beyond its type and times.
type token struct {
	jti, userID, sessionID, keyID string
	amr                           []string
}

// mint signs a token with the key kid names: HS256 for a refresh key, EdDSA for a signing key.
// The same arguments always give the same string.
func (m *tokenMaker) mint(typ string, t token, issued, expires time.Time) (string, error) {
	ks := m.keys.Load()
	c := &claims{
		TokenType: typ,
		ExpiresAt: jwt.NewNumericDate(expires),
		IssuedAt:  jwt.NewNumericDate(issued),
		ID:        t.jti,
		UserID:    t.userID,
		Subject:   t.userID,
		SessionID: t.sessionID,
		Issuer:    m.issuer,
		AMR:       t.amr,
		keyID:     t.keyID,
	}
	var tok *jwt.Token
	var key any
	if secret, ok := ks.refresh[t.keyID]; ok && typ == TypeRefresh {
		tok, key = jwt.NewWithClaims(jwt.SigningMethodHS256, c), secret
	} else if priv, ok := ks.private[t.keyID]; ok {
		if typ == TypeAccess && m.audience != "" {
			c.Audience = jwt.ClaimStrings{m.audience}
		}
		tok, key = jwt.NewWithClaims(jwt.SigningMethodEdDSA, c), priv
	} else {
		return "", fmt.Errorf("key %q is gone", t.keyID)
	}
	tok.Header["kid"] = t.keyID
	raw, err := tok.SignedString(key)
	if err == nil {
		m.verified.put(raw, c)
	}
	return raw, err
}

// accessKey finds the public key of an access token: EdDSA only, by a kid of a signing key.
func (m *tokenMaker) accessKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if key, ok := m.keys.Load().public[kid]; ok {
		return key, nil
	}
	return nil, errors.New("unknown key id")
}

// refreshKey finds the key of a refresh token: a refresh secret for HS256, or, for tokens issued
// before refresh keys existed, a signing key for EdDSA. Each kid is used with its one algorithm.
func (m *tokenMaker) refreshKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	ks := m.keys.Load()
	if secret, ok := ks.refresh[kid]; ok && t.Method == jwt.SigningMethodHS256 {
		return secret, nil
	}
	if key, ok := ks.public[kid]; ok && t.Method == jwt.SigningMethodEdDSA {
		return key, nil
	}
	return nil, errors.New("unknown key id")
}

func (m *tokenMaker) knownKey(kid string) bool {
	ks := m.keys.Load()
	_, public := ks.public[kid]
	_, refresh := ks.refresh[kid]
	return public || refresh
}

// parse checks a token's signature (with the pinned algorithm and a known kid), expiry, issuer,
// audience and type, and returns its claims, or ErrTokenInvalid. An access token must name its
// sign-in.
func (m *tokenMaker) parse(raw, wantType string) (*claims, error) {
	if raw == "" || len(raw) > MaxTokenLength {
		return nil, ErrTokenInvalid
	}
	if c := m.verified.get(raw); c != nil {
		if !m.knownKey(c.keyID) || c.TokenType != wantType || !m.now().Before(c.ExpiresAt.Time) {
			return nil, ErrTokenInvalid
		}
		return c, nil
	}
	var c claims
	parser, keyFor := m.accessParser, m.accessKey
	if wantType == TypeRefresh {
		parser, keyFor = m.refreshParser, m.refreshKey
	}
	tok, err := parser.ParseWithClaims(raw, &c, keyFor)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	if c.TokenType != wantType || c.ID == "" || c.UserID == "" || c.Subject != c.UserID || c.IssuedAt == nil ||
		(wantType == TypeAccess && c.SessionID == "") {
		return nil, ErrTokenInvalid
	}
	c.keyID, _ = tok.Header["kid"].(string)
	if c.TokenType == TypeAccess {
		m.verified.put(raw, &c)
	}
	return &c, nil
}

// JWK is one public key as published at /.well-known/jwks.json.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	Use       string `json:"use"`
}

func (m *tokenMaker) jwks() []JWK {
	ks := m.keys.Load()
	out := make([]JWK, 0, len(ks.public))
	for kid, pub := range ks.public {
		out = append(out, publicJWK(kid, pub))
	}
	return out
}

func publicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Algorithm: "EdDSA", Use: "sig"}
}

// NewRefreshKey makes a 256-bit HS256 secret of the given generation, with a random kid.
func NewRefreshKey(generation int, now time.Time) RefreshKey {
	return RefreshKey{ID: "r" + newID(), Generation: generation, Secret: randomBytes(32), CreatedAt: now}
}

// NewSigningKey makes an Ed25519 key of the given generation, its kid the RFC 7638 thumbprint.
func NewSigningKey(generation int, now time.Time) SigningKey {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return SigningKey{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Generation: generation, Private: priv, CreatedAt: now}
}

// newID returns 128 random bits, URL-safe: access token jti values, session, code and refresh
// key ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// isID reports whether s has the shape of an id newID makes, so that nothing else (a path
// segment of any length or bytes) reaches a query.
func isID(s string) bool {
	if len(s) != 22 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// newRefreshJTI returns a millisecond timestamp followed by 128 random bits, in hex, so that ids
// sort in the order they were made: the refresh token table is keyed by jti, and a new row then
// lands next to the last one instead of on a random page, so a batch of rotations writes a few
// pages, not one or two per token.
func newRefreshJTI(now time.Time) string {
	var b [6 + 16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}
