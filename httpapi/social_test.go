package httpapi_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authd/authd/authtest"
)

const googleRejected = `{"detail":"Invalid Google credentials"}`

var marie = authtest.GoogleUser{Sub: "108234", Email: "marie@gmail.com", EmailVerified: true, GivenName: "Marie", FamilyName: "Curie", Name: "Marie Curie"}

func (e *env) social(credential string) response {
	e.t.Helper()
	return e.post("/auth/social/google-oauth2/", obj{"access_code": credential})
}

// wantCreated checks a first sign-in's answer and that its tokens work.
func (e *env) wantSignedIn(r response, created bool) {
	e.t.Helper()
	status, keys := 200, 2
	if created {
		status, keys = 201, 3
		if r.str("detail") != "User created successfully!" {
			e.t.Fatalf("detail %q", r.str("detail"))
		}
	}
	if r.status != status || len(r.body) != keys || r.str("access") == "" || r.str("refresh") == "" {
		e.t.Fatalf("got %d %s, want %d with a token pair", r.status, r.raw, status)
	}
	want(e.t, e.verify(r.str("access")), 200, `{}`)
	if res := e.refresh(r.str("refresh")); res.status != 200 {
		e.t.Fatalf("refresh of a social sign-in: %d %s", res.status, res.raw)
	}
}

func (e *env) userCount() int {
	var n int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n)
	return n
}

func TestGoogleIDToken(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.wantSignedIn(e.social(e.google.IDToken(marie, nil)), true)
	e.wantSignedIn(e.social(e.google.IDToken(marie, nil)), false)
	if e.userCount() != 1 {
		t.Fatalf("%d users", e.userCount())
	}
	var first, last, email, phone, hash string
	var verified int
	e.store.DB().QueryRow(`SELECT first_name, last_name, email, COALESCE(phone, ''), password_hash, email_verified FROM users`).
		Scan(&first, &last, &email, &phone, &hash, &verified)
	if first != "Marie" || last != "Curie" || email != "marie@gmail.com" || phone != "" || hash != "" || verified != 1 {
		t.Fatalf("user from Google: %q %q %q phone %q hash %q verified %d", first, last, email, phone, hash, verified)
	}
	// The account has no usable password; registering the email by password is a duplicate.
	want(t, e.post("/auth/token/", obj{"email": "marie@gmail.com", "password": ""}), 400, `{"password":["This field may not be blank."]}`)
	want(t, e.post("/auth/register/", obj{"first_name": "M", "last_name": "C", "email": "Marie@gmail.com", "phone_no": newPhone(), "password": testPassword}),
		400, `{"email":["user with this email already exists."]}`)
	// The older issuer spelling is accepted too.
	e.wantSignedIn(e.social(e.google.IDToken(marie, func(c jwt.MapClaims) { c["iss"] = "accounts.google.com" })), false)
}

func TestGoogleAuthorizationCode(t *testing.T) {
	e := newEnv(t, withGoogle)
	code := e.google.Code(marie)
	e.wantSignedIn(e.social(code), true)
	ex := e.google.Exchanges()
	if len(ex) != 1 {
		t.Fatalf("%d exchanges, want 1", len(ex))
	}
	f := ex[0]
	if f.Get("code") != code || f.Get("client_id") != e.google.ClientID || f.Get("client_secret") != e.google.Secret ||
		f.Get("redirect_uri") != "postmessage" || f.Get("grant_type") != "authorization_code" {
		t.Fatalf("exchange form %v", f)
	}
	// A code is single-use: Google answers invalid_grant, and the code is not exchanged again.
	want(t, e.social(code), 400, googleRejected)
	if n := len(e.google.Exchanges()); n != 2 {
		t.Fatalf("%d exchanges, want exactly one more", n)
	}
	e.wantSignedIn(e.social(e.google.Code(marie)), false)
}

func TestGoogleAccessToken(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.wantSignedIn(e.social(e.google.AccessToken(marie, "ya29.")), true)
	e.wantSignedIn(e.social(e.google.AccessToken(marie, "")), false) // not shaped like Google's: tried as a code first
	want(t, e.social("ya29.not-a-token"), 400, googleRejected)       // userinfo answers 401
	want(t, e.social("plainly-unknown"), 400, googleRejected)        // invalid_grant, then 401
}

func TestGoogleAccessTokenForAnotherApp(t *testing.T) {
	e := newEnv(t, withGoogle, func(e *env) { e.gcfg.TokeninfoURL = e.google.URL + "/tokeninfo" })
	want(t, e.social(e.google.ForeignAccessToken(marie)), 400, googleRejected)
	if e.userCount() != 0 {
		t.Fatal("a user was made from another app's token")
	}
	e.wantSignedIn(e.social(e.google.AccessToken(marie, "ya29.")), true)
}

func TestGoogleNameFallsBackToFullName(t *testing.T) {
	e := newEnv(t, withGoogle)
	u := authtest.GoogleUser{Sub: "77", Email: "ada@example.org", EmailVerified: true, Name: "Ada King Lovelace"}
	e.wantSignedIn(e.social(e.google.IDToken(u, nil)), true)
	var first, last string
	e.store.DB().QueryRow(`SELECT first_name, last_name FROM users`).Scan(&first, &last)
	if first != "Ada" || last != "King Lovelace" {
		t.Fatalf("names %q %q", first, last)
	}
}

func TestGoogleLinksOnlyAVerifiedEmail(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.register("victim@gmail.com") // someone registered the address first, with a password
	_, squatter := e.login("victim@gmail.com", testPassword)

	unverified := authtest.GoogleUser{Sub: "999", Email: "victim@gmail.com", EmailVerified: false, GivenName: "V"}
	r := e.social(e.google.IDToken(unverified, nil))
	if r.status != 400 || r.str("detail") == "" || len(r.body) != 1 {
		t.Fatalf("unverified email: %d %s, want 400 with a detail", r.status, r.raw)
	}
	var links int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM social_accounts`).Scan(&links)
	if links != 0 || e.userCount() != 1 {
		t.Fatalf("%d links, %d users after a refused link", links, e.userCount())
	}

	verified := authtest.GoogleUser{Sub: "1000", Email: "Victim@gmail.com", EmailVerified: true, GivenName: "V"}
	e.wantSignedIn(e.social(e.google.IDToken(verified, nil)), false) // linked: not a new account
	if e.userCount() != 1 {
		t.Fatal("a second account was made")
	}
	// The password set by whoever registered the unproven address no longer works, nor its sessions.
	want(t, e.post("/auth/token/", obj{"email": "victim@gmail.com", "password": testPassword}), 401, noAccount)
	want(t, e.refresh(squatter), 401, invalidToken)
	// The identity key is the subject: the same email under another subject is not this account.
	other := authtest.GoogleUser{Sub: "2000", Email: "victim@gmail.com", EmailVerified: false}
	if r := e.social(e.google.IDToken(other, nil)); r.status != 400 {
		t.Fatalf("another subject with the same, unverified, email: %d %s", r.status, r.raw)
	}
}

func TestGoogleLinkKeepsAProvenPassword(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.register("owner@gmail.com")
	code := e.resetCode("owner@gmail.com") // a reset proves the email
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "owner@gmail.com", "otp": code, "password": "owner's own secret"}), 200, `{"detail":"Password has been reset"}`)
	e.clock.Advance(time.Second)
	e.wantSignedIn(e.social(e.google.IDToken(authtest.GoogleUser{Sub: "5", Email: "owner@gmail.com", EmailVerified: true}, nil)), false)
	e.login("owner@gmail.com", "owner's own secret")
}

func TestGoogleRejectsBadIDTokens(t *testing.T) {
	e := newEnv(t, withGoogle)
	other := authtest.StartGoogle(t, e.google.ClientID, e.clock.Now) // a stranger's keys
	cases := map[string]string{
		"wrong audience": e.google.IDToken(marie, func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"wrong issuer":   e.google.IDToken(marie, func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }),
		"expired":        e.google.IDToken(marie, func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() }),
		"bad signature":  other.IDToken(marie, nil),
		"alg none": func() string {
			p := strings.Split(e.google.IDToken(marie, nil), ".")
			return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + p[1] + "."
		}(),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) { want(t, e.social(tok), 400, googleRejected) })
	}
	if e.userCount() != 0 {
		t.Fatalf("%d users made from bad tokens", e.userCount())
	}
}

func TestGoogleKeyRotation(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.wantSignedIn(e.social(e.google.IDToken(marie, nil)), true) // keys now cached
	e.google.RotateKey()
	// A token under an unknown kid makes the keys be fetched again.
	e.wantSignedIn(e.social(e.google.IDToken(marie, nil)), false)
}

func TestGoogleOutages(t *testing.T) {
	e := newEnv(t, withGoogle, func(e *env) { e.gcfg.Timeout = 300 * time.Millisecond })
	e.wantSignedIn(e.social(e.google.IDToken(marie, nil)), true) // warm key cache
	cached := e.google.IDToken(marie, nil)
	baseline := runtime.NumGoroutine()

	e.google.SetHang(true)
	// ID tokens under a key already fetched still work while Google does not answer.
	start := time.Now()
	e.wantSignedIn(e.social(cached), false)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a cached-key sign-in waited %v on a hanging Google", d)
	}
	for name, cred := range map[string]string{"code": "4/0Asome-code", "access token": "ya29.abc", "new kid": func() string {
		e.google.RotateKey()
		return e.google.IDToken(marie, nil)
	}()} {
		start := time.Now()
		r := e.social(cred)
		if d := time.Since(start); r.status != 502 || d > 2*time.Second {
			t.Fatalf("%s with Google hanging: %d %s after %v, want 502 within the timeout", name, r.status, r.raw, d)
		}
		want(t, r, 502, `{"detail":"Google could not be reached. Try again later."}`)
	}
	e.google.SetHang(false)
	e.google.Close() // a closed port
	start = time.Now()
	if r := e.social("4/0Aanother"); r.status != 502 || time.Since(start) > 2*time.Second {
		t.Fatalf("Google closed: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline+5 {
		t.Fatalf("%d goroutines, baseline %d: requests to Google were left hanging", n, baseline)
	}
}

func TestUnknownBackend(t *testing.T) {
	e := newEnv(t, withGoogle)
	want(t, e.post("/auth/social/github/", obj{"access_code": "x"}), 404, `{"detail":"Not found."}`)
	want(t, e.post("/auth/social/google-oauth2", obj{}), 400, `{"access_code":["This field is required."]}`)
}

// An attacker signs in with a Google identity that claims the victim's address without Google
// having verified it. The account that makes must not be the attacker's way into the victim's
// account once the victim proves the address.
func TestGooglePreAccountTakeover(t *testing.T) {
	for name, credential := range map[string]func(e *env, u authtest.GoogleUser) string{
		"ID token":     func(e *env, u authtest.GoogleUser) string { return e.google.IDToken(u, nil) },
		"access token": func(e *env, u authtest.GoogleUser) string { return e.google.AccessToken(u, "ya29.") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withGoogle)
			attacker := authtest.GoogleUser{Sub: "666", Email: "victim@example.com", EmailVerified: false, GivenName: "Mallory"}
			r := e.social(credential(e, attacker))
			e.wantSignedIn(r, true)
			access, refresh := r.str("access"), r.str("refresh")

			// The owner cannot register the address, so resets the password to take it.
			code := e.resetCode("victim@example.com")
			want(t, e.post("/auth/password/reset/confirm/", obj{"email": "victim@example.com", "otp": code, "password": "the owner's own words"}),
				200, `{"detail":"Password has been reset"}`)

			// Everything the unproven identity had is gone, at once.
			want(t, e.verify(access), 401, invalidToken)
			want(t, e.refresh(refresh), 401, invalidToken)
			if r := e.social(credential(e, attacker)); r.status != 400 {
				t.Fatalf("the attacker's Google sign-in after the owner proved the address: %d %s, want 400", r.status, r.raw)
			}
			var links int
			e.store.DB().QueryRow(`SELECT COUNT(*) FROM social_accounts`).Scan(&links)
			if links != 0 {
				t.Fatalf("%d Google identities still linked", links)
			}
			e.login("victim@example.com", "the owner's own words")
		})
	}
}

// Google is authoritative for an email only when it verified it and it is a Gmail address or
// the account is a Workspace one (hd); only then does it take over an existing account.
func TestGoogleLinksOnlyWhereGoogleIsAuthoritative(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.register("grace@corp.example")
	_, before := e.login("grace@corp.example", testPassword)
	personal := authtest.GoogleUser{Sub: "3000", Email: "grace@corp.example", EmailVerified: true, GivenName: "G"}
	for name, credential := range map[string]string{"ID token": e.google.IDToken(personal, nil), "access token": e.google.AccessToken(personal, "ya29.")} {
		if r := e.social(credential); r.status != 400 || r.str("detail") == "" {
			t.Fatalf("%s: verified non-Gmail address without hd: %d %s, want 400", name, r.status, r.raw)
		}
	}
	var links int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM social_accounts`).Scan(&links)
	if links != 0 || e.userCount() != 1 {
		t.Fatalf("%d links and %d users after refused links", links, e.userCount())
	}
	e.login("grace@corp.example", testPassword) // the password still works

	workspace := personal
	workspace.HostedDomain = "corp.example"
	for name, credential := range map[string]string{"access token": e.google.AccessToken(workspace, "ya29."), "ID token": e.google.IDToken(workspace, nil)} {
		e.wantSignedIn(e.social(credential), false)
		if name == "access token" {
			// The address was never proven: the password set before Google proved it goes, with its sign-ins.
			want(t, e.post("/auth/token/", obj{"email": "grace@corp.example", "password": testPassword}), 401, noAccount)
			want(t, e.refresh(before), 401, invalidToken)
		}
	}
	if e.userCount() != 1 {
		t.Fatal("a second account was made")
	}
}
