package httpapi_test

import (
	"testing"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

// importOne imports one account of the original service, as authd import django does.
func (e *env) importOne(u auth.ImportedUser, links ...auth.ImportedSocial) {
	e.t.Helper()
	out, err := e.svc.ImportUsers(e.t.Context(), e.store, []auth.ImportedUser{u}, false)
	if err != nil || out[0].Skipped != "" {
		e.t.Fatalf("import %s: %+v %v", u.Email, out, err)
	}
	if len(links) > 0 {
		out, err := e.svc.ImportSocial(e.t.Context(), e.store, links, false)
		if err != nil || out[0].Skipped != "" {
			e.t.Fatalf("import links: %+v %v", out, err)
		}
	}
}

// The original may have used the email as python-social-auth's uid: the first Google sign-in
// with that address, where Google is authoritative for it, finds the account and re-keys the
// link to Google's subject; an identity Google does not vouch for finds nothing.
func TestImportedGoogleLinkKeyedByEmail(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.importOne(auth.ImportedUser{LegacyID: "41", Email: "Marie@gmail.com", FirstName: "Marie", LastName: "Curie", Active: true},
		auth.ImportedSocial{LegacyUserID: "41", Provider: "google-oauth2", UID: "Marie@Gmail.com"})

	unverified := authtest.GoogleUser{Sub: "999", Email: "marie@gmail.com", EmailVerified: false, GivenName: "M", FamilyName: "C"}
	if r := e.social(e.google.IDToken(unverified, nil)); r.status == 200 {
		t.Fatalf("an identity Google does not vouch for took the imported account: %d %s", r.status, r.raw)
	}
	r := e.social(e.google.IDToken(marie, nil))
	if r.status != 200 {
		t.Fatalf("Google sign-in of the imported user: %d %s", r.status, r.raw)
	}
	var subject string
	if err := e.store.DB().QueryRow(`SELECT s.subject FROM social_accounts s JOIN users u ON u.id = s.user_id WHERE u.legacy_id = '41'`).Scan(&subject); err != nil || subject != marie.Sub {
		t.Fatalf("link subject %q %v, want Google's sub %q", subject, err, marie.Sub)
	}
	var links int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM social_accounts`).Scan(&links)
	if links != 1 {
		t.Fatalf("%d links, want the imported one, re-keyed", links)
	}
	if r := e.social(e.google.IDToken(marie, nil)); r.status != 200 {
		t.Fatalf("second Google sign-in: %d %s", r.status, r.raw)
	}
	var after int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM users WHERE email_key = 'marie@gmail.com'`).Scan(&after)
	if after != 1 {
		t.Fatalf("%d accounts with the address, want the imported one only", after)
	}
}
