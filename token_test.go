package auth

import (
	"crypto/ed25519"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testMaker(t testing.TB, now time.Time) (*tokenMaker, SigningKey) {
	t.Helper()
	m := newTokenMaker("authd", "", func() time.Time { return now })
	k := NewSigningKey(1, now)
	m.setKeys([]SigningKey{k}, []RefreshKey{NewRefreshKey(1, now)}, now)
	return m, k
}

// access and refresh describe test tokens signed with the maker's current keys.
func access(m *tokenMaker, jti string) token {
	return token{jti: jti, userID: "user", sessionID: "sid", keyID: m.signingKeyID(), amr: []string{"pwd"}}
}

func refresh(m *tokenMaker, jti string) token {
	return token{jti: jti, userID: "user", sessionID: "sid", keyID: m.refreshKeyID()}
}

// signRaw signs arbitrary claims with the real key, as a bug or a stolen key would.
func signRaw(t *testing.T, k SigningKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = k.ID
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTimeClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k := testMaker(t, now)
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"token_type": "access", "jti": "j", "user_id": "u", "sub": "u", "sid": "s", "iss": "authd",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	if _, err := m.parse(signRaw(t, k, base()), TypeAccess); err != nil {
		t.Fatalf("a well-formed token is refused: %v", err)
	}
	cases := map[string]func(jwt.MapClaims){
		"no exp":             func(c jwt.MapClaims) { delete(c, "exp") },
		"exp 31 s ago":       func(c jwt.MapClaims) { c["exp"] = now.Add(-31 * time.Second).Unix() },
		"exp a string":       func(c jwt.MapClaims) { c["exp"] = "soon" },
		"nbf 31 s ahead":     func(c jwt.MapClaims) { c["nbf"] = now.Add(31 * time.Second).Unix() },
		"wrong issuer":       func(c jwt.MapClaims) { c["iss"] = "someone-else" },
		"wrong type":         func(c jwt.MapClaims) { c["token_type"] = "refresh" },
		"no type":            func(c jwt.MapClaims) { delete(c, "token_type") },
		"sub differs":        func(c jwt.MapClaims) { c["sub"] = "v" },
		"no jti":             func(c jwt.MapClaims) { delete(c, "jti") },
		"no iat":             func(c jwt.MapClaims) { delete(c, "iat") },
		"iat a string":       func(c jwt.MapClaims) { c["iat"] = "now" },
		"user_id not string": func(c jwt.MapClaims) { c["user_id"] = 7 },
		"no sid":             func(c jwt.MapClaims) { delete(c, "sid") },
		"sid not string":     func(c jwt.MapClaims) { c["sid"] = 7 },
	}
	for name, change := range cases {
		c := base()
		change(c)
		if _, err := m.parse(signRaw(t, k, c), TypeAccess); err != ErrTokenInvalid {
			t.Errorf("%s: parse = %v, want ErrTokenInvalid", name, err)
		}
	}
}

func TestTimesAreWholeSeconds(t *testing.T) {
	now := time.UnixMicro(1_800_000_000_987_654)
	m, _ := testMaker(t, now)
	for typ, d := range map[string]token{TypeAccess: access(m, "j"), TypeRefresh: refresh(m, "j")} {
		raw, err := m.mint(typ, d, now, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := jwt.NewParser().DecodeSegment(strings.Split(raw, ".")[1])
		// Truncated, never rounded up: a verifier must not see an iat in its future.
		if !strings.Contains(string(payload), `"iat":1800000000,`) || !strings.Contains(string(payload), `"exp":1800000060,`) {
			t.Errorf("%s token: iat and exp are not whole seconds: %s", typ, payload)
		}
	}
}

func TestEachTokenTypeHasItsOwnKeys(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k := testMaker(t, now)
	ref, _ := m.mint(TypeRefresh, refresh(m, "r"), now, now.Add(time.Hour))
	acc, _ := m.mint(TypeAccess, access(m, "a"), now, now.Add(time.Minute))
	m.verified = verifiedCache{} // judge the signatures, not what this process remembers
	head := func(raw string) map[string]any {
		b, _ := jwt.NewParser().DecodeSegment(strings.Split(raw, ".")[0])
		var h map[string]any
		json.Unmarshal(b, &h)
		return h
	}
	if h := head(ref); h["alg"] != "HS256" || h["kid"] != m.refreshKeyID() || h["kid"] == k.ID {
		t.Fatalf("refresh token header %v: want HS256 under the refresh key", h)
	}
	for _, jwk := range m.jwks() {
		if jwk.KeyID == m.refreshKeyID() {
			t.Fatal("the refresh key is published")
		}
	}
	if _, err := m.parse(ref, TypeRefresh); err != nil {
		t.Fatal(err)
	}
	if _, err := m.parse(acc, TypeAccess); err != nil {
		t.Fatal(err)
	}
	if _, err := m.parse(ref, TypeAccess); err != ErrTokenInvalid {
		t.Fatal("a refresh token passed as an access token")
	}
	if _, err := m.parse(acc, TypeRefresh); err != ErrTokenInvalid {
		t.Fatal("an access token passed as a refresh token")
	}
	secret := m.keys.Load().refresh[m.refreshKeyID()]
	claims := jwt.MapClaims{"token_type": "refresh", "jti": "x", "user_id": "user", "sub": "user", "sid": "sid", "iss": "authd",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	// HS256 under the refresh secret but naming the signing key, and under the public key.
	for name, key := range map[string][]byte{"refresh secret": secret, "public key": k.Private.Public().(ed25519.PublicKey)} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = k.ID
		raw, _ := tok.SignedString(key)
		if _, err := m.parse(raw, TypeRefresh); err != ErrTokenInvalid {
			t.Errorf("HS256 with the signing key's kid, keyed by the %s: accepted", name)
		}
	}
	// A refresh token issued before refresh keys existed (EdDSA, signing key) still refreshes.
	legacy := signRaw(t, k, claims)
	if _, err := m.parse(legacy, TypeRefresh); err != nil {
		t.Fatalf("a refresh token signed by a signing key (before the upgrade) is refused: %v", err)
	}
}

func TestAudience(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := newTokenMaker("authd", "api.example.com", func() time.Time { return now })
	k := NewSigningKey(1, now)
	m.setKeys([]SigningKey{k}, []RefreshKey{NewRefreshKey(1, now)}, now)
	acc, _ := m.mint(TypeAccess, access(m, "a"), now, now.Add(time.Minute))
	payload, _ := jwt.NewParser().DecodeSegment(strings.Split(acc, ".")[1])
	if !strings.Contains(string(payload), `"aud":["api.example.com"]`) {
		t.Fatalf("no aud issued: %s", payload)
	}
	base := jwt.MapClaims{"token_type": "access", "jti": "j", "user_id": "u", "sub": "u", "sid": "s", "iss": "authd",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	for _, tc := range []struct {
		aud any
		ok  bool
	}{{nil, false}, {"other", false}, {"api.example.com", true}, {[]string{"other"}, false}, {[]string{"other", "api.example.com"}, true}} {
		aud, ok := tc.aud, tc.ok
		c := jwt.MapClaims{}
		for k, v := range base {
			c[k] = v
		}
		if aud != nil {
			c["aud"] = aud
		}
		_, err := m.parse(signRaw(t, k, c), TypeAccess)
		if (err == nil) != ok {
			t.Errorf("aud %v: parse = %v, want accepted %v", aud, err, ok)
		}
	}
}

func TestMintIsDeterministic(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, _ := testMaker(t, now)
	a, _ := m.mint(TypeRefresh, refresh(m, "jti"), now, now.Add(time.Hour))
	b, _ := m.mint(TypeRefresh, refresh(m, "jti"), now, now.Add(time.Hour))
	if a != b {
		t.Fatal("the same record signed twice gives two tokens: retries would not get the identical successor")
	}
}

func TestOversizedTokenIsNotParsed(t *testing.T) {
	m, _ := testMaker(t, time.Now())
	if _, err := m.parse(strings.Repeat("a", MaxTokenLength+1), TypeAccess); err != ErrTokenInvalid {
		t.Fatal(err)
	}
}

func FuzzParseToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	m, _ := testMaker(f, now)
	good, _ := m.mint(TypeAccess, access(m, "jti"), now, now.Add(time.Minute))
	for _, seed := range []string{good, good + "=", "a.b.c", "..", "", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat(".", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := m.parse(raw, TypeAccess)
		if err == nil && raw != good {
			// Anything else that parses must be the same signed content.
			if c.ID != "jti" || c.UserID != "user" {
				t.Fatalf("accepted a foreign token %q", raw)
			}
		}
	})
}

func TestVerifiedCacheKeepsEveryCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := now
	m := newTokenMaker("authd", "", func() time.Time { return clock })
	k := NewSigningKey(1, now)
	m.setKeys([]SigningKey{k}, []RefreshKey{NewRefreshKey(1, now)}, now)
	tok, _ := m.mint(TypeAccess, access(m, "jti"), now, now.Add(time.Minute))
	ref, _ := m.mint(TypeRefresh, refresh(m, "jti2"), now, now.Add(time.Hour))
	if m.verified.get(tok) == nil || m.verified.get(ref) == nil {
		t.Fatal("tokens this process signed were not remembered")
	}
	m.verified = verifiedCache{} // a token signed elsewhere is remembered once checked
	for range 2 {
		if _, err := m.parse(tok, TypeAccess); err != nil {
			t.Fatal(err)
		}
	}
	if m.verified.get(tok) == nil {
		t.Fatal("a checked access token was not remembered")
	}
	if _, err := m.parse(tok, TypeRefresh); err != ErrTokenInvalid {
		t.Fatal("a remembered access token passed as a refresh token")
	}
	clock = now.Add(time.Minute)
	if _, err := m.parse(tok, TypeAccess); err != ErrTokenInvalid {
		t.Fatal("a remembered token passed after its expiry")
	}

	ref, _ = m.mint(TypeRefresh, refresh(m, "jti3"), clock, clock.Add(time.Hour))
	if _, err := m.parse(ref, TypeRefresh); err != nil {
		t.Fatal(err)
	}
	m.setKeys([]SigningKey{NewSigningKey(2, clock)}, []RefreshKey{NewRefreshKey(2, clock)}, clock) // k withdrawn from the store
	if _, err := m.parse(ref, TypeRefresh); err != ErrTokenInvalid {
		t.Fatal("a remembered token passed after its key was withdrawn")
	}

	for i := range 3 * verifiedCacheSize {
		m.verified.put(strconv.Itoa(i), &claims{})
	}
	if n := len(m.verified.cur) + len(m.verified.old); n > 2*verifiedCacheSize {
		t.Fatalf("cache holds %d entries", n)
	}
	if m.verified.get(strconv.Itoa(3*verifiedCacheSize-verifiedCacheSize-1)) == nil {
		t.Fatal("the previous generation was dropped too soon")
	}
}
