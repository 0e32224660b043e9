package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	auth "github.com/authd/authd"
)

// The original service's tokens, minted here exactly as simplejwt mints them: HS256 under the
// Django SECRET_KEY, header {"alg":"HS256","typ":"JWT"}, claims token_type, exp, iat, jti (a hex
// UUID) and user_id (a number for an integer primary key, a string for a UUID).

const legacySecret = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz"

func withLegacy(e *env) { e.cfg.LegacyJWTSecret = []byte(legacySecret) }

// importLegacy imports an account of the original, whose primary key was legacyID.
func (e *env) importLegacy(legacyID, email string, active bool) {
	e.t.Helper()
	u, skip := e.svc.PrepareImport(auth.ImportedUser{LegacyID: legacyID, Email: email, FirstName: "Ada", LastName: "Lovelace",
		Active: active, DateJoined: e.clock.Now().Add(-365 * 24 * time.Hour)})
	if skip != "" {
		e.t.Fatalf("import %s: skipped: %s", email, skip)
	}
	out, err := e.store.ImportUsers(context.Background(), []auth.User{u}, []string{legacyID}, false)
	if err != nil || !out[0].Added {
		e.t.Fatalf("import %s: %+v, %v", email, out, err)
	}
}

// legacyToken mints a token as the original did; edit may change its claims and header first.
func (e *env) legacyToken(typ string, userID any, edit ...func(jwt.MapClaims, *jwt.Token)) string {
	e.t.Helper()
	now := e.clock.Now()
	ttl := 24 * time.Hour
	if typ == auth.TypeAccess {
		ttl = 5 * time.Minute
	}
	c := jwt.MapClaims{"token_type": typ, "exp": now.Add(ttl).Unix(), "iat": now.Unix(),
		"jti": strings.ReplaceAll(uuid.NewString(), "-", ""), "user_id": userID}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	var key any = []byte(legacySecret)
	for _, f := range edit {
		f(c, tok)
	}
	if tok.Method == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

func jtiOf(raw string) func(jwt.MapClaims, *jwt.Token) {
	return func(c jwt.MapClaims, _ *jwt.Token) { c["jti"] = raw }
}

// legacySignIns counts the sign-ins the account has in the store.
func (e *env) legacySignIns(email string) int {
	e.t.Helper()
	var n int
	if err := e.store.DB().QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE email_key = '` +
		strings.ToLower(email) + `')`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestLegacyRefreshOnceThenReuse(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	legacy := e.legacyToken(auth.TypeRefresh, 42)

	first := e.refresh(legacy)
	if first.status != 200 || first.str("access") == "" || first.str("refresh") == "" {
		t.Fatalf("first refresh: %d %s", first.status, first.raw)
	}
	if got := tokenAMR(t, first.str("access")); len(got) != 1 || got[0] != "pwd" {
		t.Fatalf("amr %q, want [pwd]", got)
	}
	want(t, e.verify(first.str("access")), 200, `{}`)
	if r := e.as(first.str("access"), "GET", "/auth/me/", nil); r.status != 200 || r.str("email") != "ada@example.com" {
		t.Fatalf("GET /auth/me/ with the new sign-in: %d %s", r.status, r.raw)
	}

	// A retry inside the window gets the same pair's refresh token.
	e.clock.Advance(5 * time.Second)
	again := e.refresh(legacy)
	if again.status != 200 || again.str("refresh") != first.str("refresh") {
		t.Fatalf("retry in the window: %d %s, want the refresh token %s", again.status, again.raw, first.str("refresh"))
	}
	want(t, e.verify(again.str("access")), 200, `{}`)

	// Past it, the token is reuse: refused, and the sign-in it became is over.
	e.clock.Advance(6 * time.Second)
	want(t, e.refresh(legacy), 401, invalidToken)
	want(t, e.refresh(first.str("refresh")), 401, invalidToken)
	want(t, e.verify(first.str("access")), 401, invalidToken)
	if !containsEvent(e.logs.String(), "refresh_reuse") {
		t.Error("no refresh_reuse event logged")
	}
	if strings.Contains(e.logs.String(), legacy) || strings.Contains(e.logs.String(), legacySecret) {
		t.Error("the log holds a legacy token or the secret")
	}
}

func TestLegacyRefreshAfterSuccessorUsed(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	legacy := e.legacyToken(auth.TypeRefresh, 42)
	first := e.refresh(legacy)
	if first.status != 200 {
		t.Fatalf("first refresh: %d %s", first.status, first.raw)
	}
	next := e.refresh(first.str("refresh"))
	if next.status != 200 {
		t.Fatalf("refresh of the new sign-in: %d %s", next.status, next.raw)
	}
	// Inside the window still, but the successor moved on: reuse.
	want(t, e.refresh(legacy), 401, invalidToken)
	want(t, e.refresh(next.str("refresh")), 401, invalidToken)
}

func TestLegacyRefreshRace(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	legacy := e.legacyToken(auth.TypeRefresh, 42)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refreshes := map[string]int{}
	for range 20 {
		wg.Go(func() {
			r := e.refresh(legacy)
			mu.Lock()
			defer mu.Unlock()
			if r.status != 200 {
				t.Errorf("racing refresh: %d %s", r.status, r.raw)
				return
			}
			refreshes[r.str("refresh")]++
		})
	}
	wg.Wait()
	if len(refreshes) != 1 {
		t.Fatalf("%d different refresh tokens from one legacy token, want 1", len(refreshes))
	}
	if n := e.legacySignIns("ada@example.com"); n != 1 {
		t.Fatalf("%d sign-ins, want 1", n)
	}
}

func TestLegacyBlacklisted(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	exp := e.clock.Now().Add(24 * time.Hour)
	if err := e.store.ImportTokens(context.Background(), []auth.ImportedToken{
		{OutstandingPK: "1", JTI: "aaaa", LegacyUserID: "42", ExpiresAt: exp},
		{OutstandingPK: "2", JTI: "bbbb", LegacyUserID: "42", ExpiresAt: exp},
	}, []auth.ImportedBlacklisting{{OutstandingPK: "2", At: e.clock.Now()}}, false); err != nil {
		t.Fatal(err)
	}
	blacklisted := e.legacyToken(auth.TypeRefresh, 42, jtiOf("bbbb"))
	want(t, e.refresh(blacklisted), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh_token": blacklisted}), 401, invalidToken)
	// Recorded, not blacklisted: fine; recorded for someone else: not.
	if r := e.refresh(e.legacyToken(auth.TypeRefresh, 42, jtiOf("aaaa"))); r.status != 200 {
		t.Fatalf("an outstanding token: %d %s", r.status, r.raw)
	}
	e.importLegacy("43", "bob@example.com", true)
	if err := e.store.ImportTokens(context.Background(), []auth.ImportedToken{{OutstandingPK: "3", JTI: "cccc", LegacyUserID: "42", ExpiresAt: exp}}, nil, false); err != nil {
		t.Fatal(err)
	}
	want(t, e.refresh(e.legacyToken(auth.TypeRefresh, 43, jtiOf("cccc"))), 401, invalidToken)
}

func TestLegacyRefused(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	e.importLegacy("44", "off@example.com", false)
	hs512 := func(_ jwt.MapClaims, tok *jwt.Token) {
		tok.Method = jwt.SigningMethodHS512
		tok.Header["alg"] = "HS512"
	}
	hs384 := func(_ jwt.MapClaims, tok *jwt.Token) {
		tok.Method = jwt.SigningMethodHS384
		tok.Header["alg"] = "HS384"
	}
	none := func(_ jwt.MapClaims, tok *jwt.Token) { tok.Method = jwt.SigningMethodNone; tok.Header["alg"] = "none" }
	for _, typ := range []string{auth.TypeRefresh, auth.TypeAccess} {
		cases := map[string]string{
			"expired":        e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { c["exp"] = e.clock.Now().Add(-time.Second).Unix() }),
			"no exp":         e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { delete(c, "exp") }),
			"no iat":         e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { delete(c, "iat") }),
			"no jti":         e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { delete(c, "jti") }),
			"no user_id":     e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { delete(c, "user_id") }),
			"float user_id":  e.legacyToken(typ, 42.5),
			"bool user_id":   e.legacyToken(typ, true),
			"alg none":       e.legacyToken(typ, 42, none),
			"HS512":          e.legacyToken(typ, 42, hs512),
			"HS384":          e.legacyToken(typ, 42, hs384),
			"wrong secret":   jwtWithSecret(t, e.legacyClaims(typ, 42), "another-secret"),
			"with a kid":     e.legacyToken(typ, 42, func(_ jwt.MapClaims, tok *jwt.Token) { tok.Header["kid"] = "legacy" }),
			"not imported":   e.legacyToken(typ, 999),
			"inactive":       e.legacyToken(typ, 44),
			"no token_type":  e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { delete(c, "token_type") }),
			"too long":       e.legacyToken(typ, 42, func(c jwt.MapClaims, _ *jwt.Token) { c["pad"] = strings.Repeat("x", auth.MaxTokenLength) }),
			"tampered":       tamper(e.legacyToken(typ, 42)),
			"other user_id":  e.legacyToken(typ, "42 "),
			"uuid not known": e.legacyToken(typ, uuid.NewString()),
		}
		for name, raw := range cases {
			t.Run(typ+"/"+name, func(t *testing.T) {
				if typ == auth.TypeRefresh {
					want(t, e.refresh(raw), 401, invalidToken)
					want(t, e.post("/auth/logout/", obj{"refresh_token": raw}), 401, invalidToken)
				} else {
					want(t, e.verify(raw), 401, invalidToken)
				}
			})
		}
	}
	// Each type only where it belongs.
	want(t, e.refresh(e.legacyToken(auth.TypeAccess, 42)), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh_token": e.legacyToken(auth.TypeAccess, 42)}), 401, invalidToken)
	want(t, e.verify(e.legacyToken(auth.TypeRefresh, 42)), 401, invalidToken)
	// The genuine article passes, so the refusals above are the cases' own.
	want(t, e.verify(e.legacyToken(auth.TypeAccess, 42)), 200, `{}`)
	if r := e.refresh(e.legacyToken(auth.TypeRefresh, 42)); r.status != 200 {
		t.Fatalf("a good legacy refresh token: %d %s", r.status, r.raw)
	}
}

// legacyClaims are a good token's claims, to sign some other way.
func (e *env) legacyClaims(typ string, userID any) jwt.MapClaims {
	now := e.clock.Now()
	return jwt.MapClaims{"token_type": typ, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"jti": strings.ReplaceAll(uuid.NewString(), "-", ""), "user_id": userID}
}

func jwtWithSecret(t *testing.T, c jwt.MapClaims, secret string) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// tamper changes the payload's last character, keeping the signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	p := []byte(parts[1])
	if p[len(p)-2] == 'A' {
		p[len(p)-2] = 'B'
	} else {
		p[len(p)-2] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

func TestLegacyOff(t *testing.T) {
	// No secret: the original's tokens are authd tokens without a kid, refused.
	e := newEnv(t)
	e.importLegacy("42", "ada@example.com", true)
	want(t, e.refresh(e.legacyToken(auth.TypeRefresh, 42)), 401, invalidToken)
	want(t, e.verify(e.legacyToken(auth.TypeAccess, 42)), 401, invalidToken)
}

func TestLegacyUntil(t *testing.T) {
	var until time.Time
	e := newEnv(t, withLegacy, func(e *env) {
		until = e.clock.Now().Add(time.Hour)
		e.cfg.LegacyJWTUntil = until
	})
	e.importLegacy("42", "ada@example.com", true)
	refresh, logout, access := e.legacyToken(auth.TypeRefresh, 42), e.legacyToken(auth.TypeRefresh, 42), e.legacyToken(auth.TypeRefresh, 42)
	used := e.refresh(e.legacyToken(auth.TypeRefresh, 42))
	if used.status != 200 {
		t.Fatalf("before the end: %d %s", used.status, used.raw)
	}
	e.clock.Advance(time.Hour)
	access = e.legacyToken(auth.TypeAccess, 42)
	want(t, e.refresh(refresh), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh_token": logout}), 401, invalidToken)
	want(t, e.verify(access), 401, invalidToken)
	// A sign-in a legacy token became is authd's own, and lives on.
	if r := e.refresh(used.str("refresh")); r.status != 200 {
		t.Fatalf("the sign-in made before the end: %d %s", r.status, r.raw)
	}
}

func TestLegacyVerify(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	id := uuid.NewString()
	e.importLegacy(id, "uuid@example.com", true)
	access := e.legacyToken(auth.TypeAccess, 42)
	want(t, e.verify(access), 200, `{}`)
	want(t, e.do("POST", "/auth/token/verify/", "application/json", `{}`, "Authorization", "Bearer "+access), 200, `{}`)
	want(t, e.verify(e.legacyToken(auth.TypeAccess, id)), 200, `{}`)
	want(t, e.verify(e.legacyToken(auth.TypeAccess, strings.ReplaceAll(id, "-", ""))), 401, invalidToken)
	// Not a credential of the signed-in endpoints: it names no sign-in here.
	want(t, e.as(access, "GET", "/auth/me/", nil), 401, notAnAccess)
	want(t, e.as(access, "GET", "/auth/sessions/", nil), 401, notAnAccess)
	want(t, e.as(access, "POST", "/auth/logout/all/", obj{}), 401, notAnAccess)
	// Disabling the account ends it.
	u, err := e.store.UserByLegacyID(context.Background(), "42")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	want(t, e.verify(access), 401, invalidToken)
}

func TestLegacyLogout(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)

	unused := e.legacyToken(auth.TypeRefresh, 42)
	want(t, e.post("/auth/logout/", obj{"refresh_token": unused}), 200, `{}`)
	want(t, e.refresh(unused), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh": unused}), 401, invalidToken)

	// One that became a sign-in: logging out with it ends that sign-in.
	used := e.legacyToken(auth.TypeRefresh, 42)
	pair := e.refresh(used)
	if pair.status != 200 {
		t.Fatalf("refresh: %d %s", pair.status, pair.raw)
	}
	want(t, e.post("/auth/logout/", obj{"refresh_token": used}), 200, `{}`)
	want(t, e.refresh(pair.str("refresh")), 401, invalidToken)
	want(t, e.verify(pair.str("access")), 401, invalidToken)
	want(t, e.refresh(used), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh_token": used}), 401, invalidToken)
}

func TestLegacyPasswordResetEndsThem(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	refresh, access := e.legacyToken(auth.TypeRefresh, 42), e.legacyToken(auth.TypeAccess, 42)
	want(t, e.verify(access), 200, `{}`)
	e.clock.Advance(time.Second)
	code := e.resetCode("ada@example.com")
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "ada@example.com", "otp": code, "password": "new secret phrase"}), 200,
		`{"detail":"Password has been reset"}`)
	want(t, e.verify(access), 401, invalidToken)
	want(t, e.refresh(refresh), 401, invalidToken)
	want(t, e.post("/auth/logout/", obj{"refresh_token": refresh}), 401, invalidToken)
	// Tokens the original issued after it (it still runs beside this one) are honoured.
	e.clock.Advance(time.Second)
	want(t, e.verify(e.legacyToken(auth.TypeAccess, 42)), 200, `{}`)
}

// Found by the outside review of moving in. Signing out everywhere ends the original's tokens
// issued before it, as it ends this service's own sign-ins.
func TestLegacyLogoutAllEndsThem(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	refresh, access := e.legacyToken(auth.TypeRefresh, 42), e.legacyToken(auth.TypeAccess, 42)
	other := e.legacyToken(auth.TypeRefresh, 42)
	first := e.refresh(refresh)
	if first.status != 200 {
		t.Fatalf("legacy refresh: %d %s", first.status, first.raw)
	}
	e.clock.Advance(time.Second)
	want(t, e.as(first.str("access"), "POST", "/auth/logout/all/", obj{}), 200, `{}`)
	want(t, e.refresh(other), 401, invalidToken)
	want(t, e.verify(access), 401, invalidToken)
}

// With AUTH_EMAIL_VERIFICATION=required, a legacy refresh token of an unverified account is
// refused as its password would be at /auth/token/.
func TestLegacyRefreshNeedsAVerifiedEmailWhenRequired(t *testing.T) {
	e := newEnv(t, withLegacy, func(e *env) { e.cfg.EmailVerification = auth.VerificationRequired })
	e.importLegacy("42", "ada@example.com", true)
	want(t, e.refresh(e.legacyToken(auth.TypeRefresh, 42)), 403, `{"detail":"Email address is not verified.","code":"email_not_verified"}`)
}

// Claims the store cannot be asked about (a NUL, which PostgreSQL refuses in text), exp or iat
// written as strings, and an iat in the future are refused.
func TestLegacyOddClaims(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.importLegacy("42", "ada@example.com", true)
	for name, edit := range map[string]func(jwt.MapClaims, *jwt.Token){
		"NUL in jti":      func(c jwt.MapClaims, _ *jwt.Token) { c["jti"] = "abc\x00def" },
		"NUL in user_id":  func(c jwt.MapClaims, _ *jwt.Token) { c["user_id"] = "42\x00" },
		"exp as a string": func(c jwt.MapClaims, _ *jwt.Token) { c["exp"] = fmt.Sprint(c["exp"]) },
		"iat as a string": func(c jwt.MapClaims, _ *jwt.Token) { c["iat"] = fmt.Sprint(c["iat"]) },
		"iat in an hour":  func(c jwt.MapClaims, _ *jwt.Token) { c["iat"] = e.clock.Now().Add(time.Hour).Unix() },
		"control in jti":  func(c jwt.MapClaims, _ *jwt.Token) { c["jti"] = "abc\ndef" },
	} {
		for _, typ := range []string{auth.TypeRefresh, auth.TypeAccess} {
			tok := e.legacyToken(typ, 42, edit)
			if typ == auth.TypeRefresh {
				want(t, e.refresh(tok), 401, invalidToken)
				want(t, e.post("/auth/logout/", obj{"refresh_token": tok}), 401, invalidToken)
			} else if r := e.verify(tok); r.status != 401 {
				t.Errorf("%s: verify %d %s", name, r.status, r.raw)
			}
		}
	}
}

// An import never takes over an account someone made here, nor enables one disabled here.
func TestImportLeavesAccountsOfThisService(t *testing.T) {
	e := newEnv(t, withLegacy)
	e.register("native@example.com")
	u, skip := e.svc.PrepareImport(auth.ImportedUser{LegacyID: "7", Email: "NATIVE@example.com", FirstName: "Mallory", LastName: "M",
		Active: true, PasswordHash: "pbkdf2_sha256$1000$salt$bm90IGEgcmVhbCBoYXNoIGF0IGFsbCwgcmVhbGx5ISE="})
	if skip != "" {
		t.Fatal(skip)
	}
	out, err := e.store.ImportUsers(t.Context(), []auth.User{u}, []string{"7"}, false)
	if err != nil || out[0].Skipped != auth.SkipNativeEmail {
		t.Fatalf("import over an account made here: %+v %v, want skipped", out, err)
	}
	if got, _ := e.store.UserByEmailKey(t.Context(), "native@example.com"); got.FirstName == "Mallory" {
		t.Fatal("the import changed the account made here")
	}
	want(t, e.refresh(e.legacyToken(auth.TypeRefresh, 7)), 401, invalidToken)

	e.importLegacy("8", "moved@example.com", true)
	moved, _ := e.store.UserByEmailKey(t.Context(), "moved@example.com")
	if err := e.store.SetUserActive(t.Context(), moved.ID, false); err != nil {
		t.Fatal(err)
	}
	again, _ := e.svc.PrepareImport(auth.ImportedUser{LegacyID: "8", Email: "moved@example.com", FirstName: "Ada", LastName: "L", Active: true})
	if out, err := e.store.ImportUsers(t.Context(), []auth.User{again}, []string{"8"}, false); err != nil || !out[0].Updated {
		t.Fatalf("re-import: %+v %v", out, err)
	}
	if got, _ := e.store.UserByEmailKey(t.Context(), "moved@example.com"); got.Active {
		t.Fatal("a re-import enabled an account disabled here")
	}
}
