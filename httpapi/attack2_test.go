package httpapi_test

// Attacks of the attack2 review. Each test states the contract line it holds; each failed when
// written.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/authtest"
)

// contract.md, Sign in with Google: "A confirmed reset, a verification code or an authoritative
// Google link removes every Google identity linked without a verified email ... Their sign-ins
// are revoked." An attacker's personal Google account made with the victim's non-Gmail address
// (email_verified true, no hd: not authoritative) creates the account; the owner then signs in
// with their Workspace account (hd: authoritative). The attacker's identity is dropped, but its
// sign-in keeps working: the account was marked email_verified from the attacker's identity, so
// the link skipped revoking sessions.
func TestAttack2UnprovenGoogleSignInSurvivesAuthoritativeLink(t *testing.T) {
	e := newEnv(t, withGoogle)
	attacker := authtest.GoogleUser{Sub: "attacker-1", Email: "ceo@corp.example", EmailVerified: true, GivenName: "Mallory", FamilyName: "M"}
	owner := authtest.GoogleUser{Sub: "owner-1", Email: "ceo@corp.example", EmailVerified: true, HostedDomain: "corp.example", GivenName: "Ceo", FamilyName: "C"}

	r := e.social(e.google.IDToken(attacker, nil))
	if r.status != 201 {
		t.Fatalf("attacker's first sign-in: %d %s", r.status, r.raw)
	}
	access, refresh := r.str("access"), r.str("refresh")

	if r := e.social(e.google.IDToken(owner, nil)); r.status != 200 {
		t.Fatalf("owner's authoritative sign-in: %d %s", r.status, r.raw)
	}
	var links int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM social_accounts WHERE subject = 'attacker-1'`).Scan(&links)
	if links != 0 {
		t.Fatalf("the attacker's unproven identity is still linked")
	}
	if v := e.verify(access); v.status != 401 {
		t.Errorf("attacker's access token after the owner's authoritative link: %d %s, want 401", v.status, v.raw)
	}
	if f := e.refresh(refresh); f.status != 401 {
		t.Errorf("attacker's refresh token after the owner's authoritative link: %d %s, want 401 (the attacker keeps the account)", f.status, f.raw)
	}
}

// contract.md, Password reset: "For an unknown email, verify and confirm answer exactly as for a
// wrong code, in both modes." Confirm judges the new password against the account's names before
// the code, so a wrong code with a password built from a guessed name tells a known email from an
// unknown one, and confirms the account holder's name, with AUTH_RESET_REVEAL_UNKNOWN=false too.
func TestAttack2ResetConfirmRevealsAccountAndNameWithoutCode(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.RevealUnknownEmail = false })
	e.register("known@example.com") // Grace Hopper
	unknown := e.post("/auth/password/reset/confirm/", obj{"email": "nobody@example.com", "otp": "000000", "password": "hopper1906x"})
	known := e.post("/auth/password/reset/confirm/", obj{"email": "known@example.com", "otp": "000000", "password": "hopper1906x"})
	want(t, unknown, 400, badCode)
	if known.raw != unknown.raw || known.status != unknown.status {
		t.Fatalf("confirm with a wrong code: known email answers %d %s, unknown %d %s: the account and its last name are revealed",
			known.status, strings.TrimSpace(known.raw), unknown.status, strings.TrimSpace(unknown.raw))
	}
}

// contract.md, Conventions: "first_name and last_name refuse control characters (line breaks and
// tabs included)". U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR are line breaks (Unicode
// line-break classes BK), yet they are stored in names.
func TestAttack2NamesRefuseUnicodeLineSeparators(t *testing.T) {
	e := newEnv(t)
	r := e.post("/auth/register/", obj{"first_name": "Eve\u2028Injected line", "last_name": "X\u2029Y", "email": "ls@example.com",
		"phone_no": newPhone(), "password": testPassword})
	want(t, r, 400, `{"first_name":["This field may not contain control characters."],"last_name":["This field may not contain control characters."]}`)
}

// contract.md, Conventions: "Every path answers with and without its trailing slash ... No
// redirects: a 301 on a POST loses the body." and "Every response body is JSON". A path with a
// doubled slash or a dot segment is answered by Go's ServeMux with a 307 and an empty body, or
// for GET an HTML one.
func TestAttack2UncleanPathsAreNotRedirected(t *testing.T) {
	e := newEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/auth//token/", "/auth/token//", "/auth/x/../token/"} {
		req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(`{"email":"a@example.com","password":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 300 && res.StatusCode < 400 || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("POST %s: %d Location %q Content-Type %q: a redirect without a JSON body", path, res.StatusCode,
				res.Header.Get("Location"), res.Header.Get("Content-Type"))
		}
	}
}
