package auth

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testMaker(t *testing.T, now time.Time) (*tokenMaker, SigningKey) {
	t.Helper()
	m := newTokenMaker("authd", func() time.Time { return now })
	k := NewSigningKey(1, now)
	m.setKeys([]SigningKey{k}, now)
	return m, k
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
		return jwt.MapClaims{"token_type": "access", "jti": "j", "user_id": "u", "sub": "u", "iss": "authd",
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
	}
	for name, change := range cases {
		c := base()
		change(c)
		if _, err := m.parse(signRaw(t, k, c), TypeAccess); err != ErrTokenInvalid {
			t.Errorf("%s: parse = %v, want ErrTokenInvalid", name, err)
		}
	}
}

func TestPreciseIssuedAtRoundTrips(t *testing.T) {
	at := time.UnixMicro(1_800_000_000_123_456)
	b, _ := json.Marshal(preciseTime{at})
	if string(b) != "1800000000.123456" {
		t.Fatalf("marshal = %s", b)
	}
	for in, want := range map[string]int64{"1800000000.123456": 1_800_000_000_123_456, "1800000000": 1_800_000_000_000_000, "1800000000.5": 1_800_000_000_500_000} {
		var p preciseTime
		if err := json.Unmarshal([]byte(in), &p); err != nil || p.UnixMicro() != want {
			t.Errorf("unmarshal %s = %v, %v", in, p.UnixMicro(), err)
		}
	}
	var p preciseTime
	for _, bad := range []string{`"x"`, `1.-5`, `null`, `1e400`} {
		if json.Unmarshal([]byte(bad), &p) == nil && bad != "null" {
			t.Errorf("unmarshal %s accepted", bad)
		}
	}
}

func TestMintIsDeterministic(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k := testMaker(t, now)
	a, _ := m.mint(TypeRefresh, "jti", "user", k.ID, now, now.Add(time.Hour))
	b, _ := m.mint(TypeRefresh, "jti", "user", k.ID, now, now.Add(time.Hour))
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
	m, k := testMaker(&testing.T{}, now)
	good, _ := m.mint(TypeAccess, "jti", "user", k.ID, now, now.Add(time.Minute))
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
	m := newTokenMaker("authd", func() time.Time { return clock })
	k := NewSigningKey(1, now)
	m.setKeys([]SigningKey{k}, now)
	tok, _ := m.mint(TypeAccess, "jti", "user", k.ID, now, now.Add(time.Minute))
	refresh, _ := m.mint(TypeRefresh, "jti2", "user", k.ID, now, now.Add(time.Hour))
	if m.verified.get(tok) == nil || m.verified.get(refresh) == nil {
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

	refresh, _ = m.mint(TypeRefresh, "jti3", "user", k.ID, clock, clock.Add(time.Hour))
	if _, err := m.parse(refresh, TypeRefresh); err != nil {
		t.Fatal(err)
	}
	m.setKeys([]SigningKey{NewSigningKey(2, clock)}, clock) // k withdrawn from the store
	if _, err := m.parse(refresh, TypeRefresh); err != ErrTokenInvalid {
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
