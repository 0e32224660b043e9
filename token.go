package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

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

// claims are the JWT claims authd issues, in simplejwt's vocabulary.
type claims struct {
	TokenType string           `json:"token_type"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"` // never issued; checked when present
	IssuedAt  preciseTime      `json:"iat"`
	ID        string           `json:"jti"`
	UserID    string           `json:"user_id"`
	Subject   string           `json:"sub"`
	Issuer    string           `json:"iss"`

	keyID string // the kid that signed it, for tokens remembered in the verified cache
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(c.IssuedAt.Time), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }
func (c *claims) GetIssuer() (string, error)              { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)             { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }

// preciseTime is a NumericDate with microseconds (RFC 7519 allows fractions), so that a token
// minted in the same second as a password reset is still ordered before or after it.
type preciseTime struct{ time.Time }

func (t preciseTime) MarshalJSON() ([]byte, error) {
	us := t.UnixMicro()
	return fmt.Appendf(nil, "%d.%06d", us/1e6, us%1e6), nil
}

func (t *preciseTime) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	whole, frac, _ := bytes.Cut([]byte(n), []byte("."))
	sec, err := strconv.ParseInt(string(whole), 10, 64)
	if err != nil {
		return err
	}
	var us int64
	if len(frac) > 0 {
		frac = append(frac, "000000"...)[:6]
		if us, err = strconv.ParseInt(string(frac), 10, 64); err != nil || us < 0 {
			return errors.New("bad fraction")
		}
	}
	t.Time = time.UnixMicro(sec*1e6 + us)
	return nil
}

// keySet is the signing keys, parsed once and swapped atomically when they change.
type keySet struct {
	signing SigningKey
	public  map[string]ed25519.PublicKey
	private map[string]ed25519.PrivateKey
}

// tokenMaker signs and checks authd's tokens. The parser and the keys are built once; the hot
// path (Verify, Refresh) does a map lookup and one signature check.
type tokenMaker struct {
	issuer   string
	keys     atomic.Pointer[keySet]
	parser   *jwt.Parser
	now      func() time.Time
	verified verifiedCache
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

func newTokenMaker(issuer string, now func() time.Time) *tokenMaker {
	return &tokenMaker{
		issuer: issuer,
		now:    now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(issuer),
			jwt.WithStrictDecoding(),
			jwt.WithTimeFunc(now),
		),
	}
}

// setKeys installs keys, newest generation first. The newest key already active at now signs
// (the oldest, if none is); every key verifies and is published.
func (m *tokenMaker) setKeys(keys []SigningKey, now time.Time) {
	ks := &keySet{signing: keys[len(keys)-1], public: map[string]ed25519.PublicKey{}, private: map[string]ed25519.PrivateKey{}}
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		ks.public[k.ID] = k.Private.Public().(ed25519.PublicKey)
		ks.private[k.ID] = k.Private
		if !k.ActivatesAt.After(now) {
			ks.signing = k
		}
	}
	m.keys.Store(ks)
}

func (m *tokenMaker) signingKeyID() string { return m.keys.Load().signing.ID }

// mint signs a token; the same arguments always give the same string.
func (m *tokenMaker) mint(typ, jti, userID, kid string, issued, expires time.Time) (string, error) {
	key, ok := m.keys.Load().private[kid]
	if !ok {
		return "", fmt.Errorf("signing key %q is gone", kid)
	}
	c := &claims{
		TokenType: typ,
		ExpiresAt: jwt.NewNumericDate(expires),
		IssuedAt:  preciseTime{issued},
		ID:        jti,
		UserID:    userID,
		Subject:   userID,
		Issuer:    m.issuer,
		keyID:     kid,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	raw, err := tok.SignedString(key)
	if err == nil {
		m.verified.put(raw, c)
	}
	return raw, err
}

func (m *tokenMaker) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if key, ok := m.keys.Load().public[kid]; ok {
		return key, nil
	}
	return nil, errors.New("unknown key id")
}

// parse checks a token's signature (with the pinned algorithm and a known kid), expiry, issuer
// and type, and returns its claims, or ErrTokenInvalid.
func (m *tokenMaker) parse(raw, wantType string) (*claims, error) {
	if raw == "" || len(raw) > MaxTokenLength {
		return nil, ErrTokenInvalid
	}
	if c := m.verified.get(raw); c != nil {
		if _, known := m.keys.Load().public[c.keyID]; !known || c.TokenType != wantType || !m.now().Before(c.ExpiresAt.Time) {
			return nil, ErrTokenInvalid
		}
		return c, nil
	}
	var c claims
	tok, err := m.parser.ParseWithClaims(raw, &c, m.keyFor)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	if c.TokenType != wantType || c.ID == "" || c.UserID == "" || c.Subject != c.UserID || c.IssuedAt.IsZero() {
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

// NewSigningKey makes an Ed25519 key of the given generation, its kid the RFC 7638 thumbprint.
func NewSigningKey(generation int, now time.Time) SigningKey {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return SigningKey{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Generation: generation, Private: priv, CreatedAt: now}
}

// newID returns 128 random bits, URL-safe: access token jti values, session and code ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newRefreshJTI returns a UUIDv7 (RFC 9562) in hex: a millisecond timestamp, a count within the
// millisecond and 62 random bits, so that ids sort in the order they were made. The
// refresh token table is keyed by jti, and a new row then lands next to the last one instead of
// on a random page: a batch of rotations writes a few pages, not one or two per token.
func newRefreshJTI() string {
	id, err := uuid.NewV7()
	if err != nil { // only when crypto/rand fails, which Go treats as fatal anyway
		panic(err)
	}
	return hex.EncodeToString(id[:])
}
