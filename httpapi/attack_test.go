package httpapi_test

// Attacks of the outside review. Each test states the contract line it holds the service to.

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/mail"
	"github.com/authd/authd/sqlite"
)

const (
	msgNul     = "Null characters are not allowed."
	msgControl = "This field may not contain control characters."
	badUTF8    = `{"detail":"Form data is not valid UTF-8."}`
)

// Contract, "Conventions": a NUL character in any field, on every endpoint and both stores, is
// refused with "Null characters are not allowed."; no such input ever reaches the store or
// produces a 5xx. (Before the fix, PostgreSQL answered 500, invalid byte sequence 0x00, and
// SQLite stored the NUL.)
func TestAttackNulCharactersAreRefusedEverywhere(t *testing.T) {
	e := newEnv(t)
	reg := func(field, value string) obj {
		b := obj{"first_name": "Ann", "last_name": "Lee", "email": fmt.Sprintf("nul-%s@example.com", field), "phone_no": newPhone(), "password": testPassword}
		b[field] = value
		return b
	}
	for _, tc := range []struct {
		name, path string
		body       obj
		field      string
	}{
		{"register first_name", "/auth/register/", reg("first_name", "An\x00n"), "first_name"},
		{"register last_name", "/auth/register/", reg("last_name", "Le\x00e"), "last_name"},
		{"register address", "/auth/register/", reg("address", "1 Main St\x00"), "address"},
		{"register password", "/auth/register/", reg("password", "correct horse\x00battery"), "password"},
		{"token email", "/auth/token/", obj{"email": "a\x00@example.com", "password": testPassword}, "email"},
		{"token password", "/auth/token/", obj{"email": "a@example.com", "password": "pass\x00word!"}, "password"},
		{"reset verify email", "/auth/password/reset/verify/", obj{"email": "a\x00@example.com", "otp": "123456"}, "email"},
		{"reset confirm email", "/auth/password/reset/confirm/", obj{"email": "a\x00@example.com", "otp": "123456", "password": testPassword}, "email"},
		{"refresh", "/auth/token/refresh/", obj{"refresh": "a\x00b"}, "refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(tc.path, tc.body)
			if r.status >= 500 {
				t.Fatalf("5xx: %d %s", r.status, r.raw)
			}
			want(t, r, 400, fmt.Sprintf(`{%q:[%q]}`, tc.field, msgNul))
		})
	}
}

// Contract, "Conventions": a form body that is not valid UTF-8 is
// 400 {"detail": "Form data is not valid UTF-8."}. (Before the fix, PostgreSQL answered 500 and
// SQLite stored the bytes.)
func TestAttackInvalidUTF8FormIsRefused(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"first_name": {"An\xffn"}, "last_name": {"Lee"}, "email": {"utf8@example.com"},
		"phone_no": {newPhone()}, "password": {testPassword}}.Encode()
	r := e.do("POST", "/auth/register/", "application/x-www-form-urlencoded", form)
	if r.status >= 500 {
		t.Fatalf("5xx: %d %s", r.status, r.raw)
	}
	want(t, r, 400, badUTF8)
	r = e.do("POST", "/auth/token/", "application/x-www-form-urlencoded", "email=a%FF%40example.com&password=x")
	want(t, r, 400, badUTF8)
}

// Contract, "Conventions": first_name and last_name refuse control characters (line breaks and
// tabs included) and Unicode bidirectional controls. (Before the fix, both stores accepted them.)
func TestAttackControlCharactersInNamesAreRefused(t *testing.T) {
	e := newEnv(t)
	r := e.post("/auth/register/", obj{"first_name": "Ann\u202egnp.exe", "last_name": "Lee\r\nBcc: x@example.com",
		"email": "ctl@example.com", "phone_no": newPhone(), "password": testPassword})
	want(t, r, 400, fmt.Sprintf(`{"first_name":[%q],"last_name":[%q]}`, msgControl, msgControl))
}

// blockingTransport holds the first email it is asked to send until release is closed, and
// records every email.
type blockingTransport struct {
	mu       sync.Mutex
	sent     []auth.Message
	started  chan struct{}
	release  chan struct{}
	startOne sync.Once
}

func (b *blockingTransport) Send(_ context.Context, _ string, m auth.Message) error {
	first := false
	b.startOne.Do(func() { first = true; close(b.started) })
	if first {
		<-b.release
	}
	b.mu.Lock()
	b.sent = append(b.sent, m)
	b.mu.Unlock()
	return nil
}

// Contract, last paragraph: "A code that a newer one replaced before its email went out is not
// sent." A code replaced while an earlier email is being sent (a slow SMTP server) is not sent.
// (Before the fix, the sender claimed ten emails at once and sent the replaced one from its batch.)
func TestAttackReplacedCodeDuringAnEarlierSendIsNotSent(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := auth.DefaultConfig()
	cfg.CodesPerHour, cfg.EmailVerification = 0, auth.VerificationOff
	svc, err := auth.New(ctx, cfg, auth.Deps{Store: store, Hasher: auth.NewHasher(auth.DefaultHashParams, 2, 2*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"first@example.com", "victim@example.com"} {
		p := testPassword
		if err := svc.Register(ctx, auth.Registration{FirstName: "A", LastName: "B", Email: email, Phone: newPhone(), Password: &p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Two reset emails queued: first@ (sent first, and held by a slow SMTP server), then victim@'s code A.
	if err := svc.RequestReset(ctx, "first@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := svc.RequestReset(ctx, "victim@example.com", nil); err != nil {
		t.Fatal(err)
	}
	tr := &blockingTransport{started: make(chan struct{}), release: make(chan struct{})}
	sender := mail.NewSender(store, tr, svc.OpenMessage, nil, nil)
	sender.Log = discardLogger()
	done := make(chan struct{})
	go func() { sender.Drain(ctx); close(done) }()
	<-tr.started // the batch (both emails) is claimed; the first is being sent
	// Code B replaces code A before A's email went out.
	if err := svc.RequestReset(ctx, "victim@example.com", nil); err != nil {
		t.Fatal(err)
	}
	var deadA int
	store.DB().QueryRow(`SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL`).Scan(&deadA)
	close(tr.release)
	<-done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var toVictim []string
	for _, m := range tr.sent {
		if m.To == "victim@example.com" {
			toVictim = append(toVictim, m.Text)
		}
	}
	if len(toVictim) != 1 {
		t.Fatalf("victim@ got %d reset emails (replaced row marked dead: %d), want only the newest code's:\n%s",
			len(toVictim), deadA, strings.Join(toVictim, "\n---\n"))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Contract, "Sign in with Google": an existing account is linked only when Google is
// authoritative for the email (email_verified and @gmail.com or hd), and "proving an email removes
// what someone else may have added while it was unproven". Google is not authoritative for a
// verified non-Gmail address without hd (the address may have changed hands since Google checked
// it), so such an identity cannot join an existing account; when it creates the account first, the
// owner's password reset (proving the address) removes it. (Before the fix, it survived the reset.)
func TestAttackNonAuthoritativeGoogleIdentityDiesWithOwnersReset(t *testing.T) {
	e := newEnv(t, withGoogle)
	// Mallory once controlled owner@corp.example and has a personal Google account on it.
	mallory := authtest.GoogleUser{Sub: "4242", Email: "owner@corp.example", EmailVerified: true, GivenName: "Mallory"}
	// Against an existing account this identity is refused (TestGoogleLinksOnlyWhereGoogleIsAuthoritative);
	// here she simply comes first.
	e.wantSignedIn(e.social(e.google.IDToken(mallory, nil)), true)

	// The address's real owner cannot register it, so proves it with a reset.
	code := e.resetCode("owner@corp.example")
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "owner@corp.example", "otp": code, "password": "the owner's own words"}),
		200, `{"detail":"Password has been reset"}`)
	e.login("owner@corp.example", "the owner's own words")

	if r := e.social(e.google.IDToken(mallory, nil)); r.status == 200 {
		t.Fatalf("after the owner proved the address, the identity Google is not authoritative for still signs in to the account: %d", r.status)
	}
}

// Brief / security.md 52: security events in the log carry the client address and the request
// id, the per-address throttle's event (ip_throttled) included.
func TestAttackThrottleEventCarriesRequestID(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.IPRateLimit = 1 })
	e.post("/auth/password/reset/verify/", obj{"email": "x@example.com", "otp": "123456"})
	r := e.do("POST", "/auth/password/reset/verify/", "application/json", `{"email":"x@example.com","otp":"123456"}`, "X-Request-ID", "attack-req-1")
	if r.status != 429 {
		t.Fatalf("got %d, want 429", r.status)
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"event":"ip_throttled"`) && !strings.Contains(line, `"request_id":"attack-req-1"`) {
			t.Fatalf("ip_throttled event without the request id: %s", line)
		}
	}
}

// Contract, password rule 2 (Django's MinimumLengthValidator: len(password) as received) and
// security.md 1: a password shorter than 8 characters is refused, though compatibility characters
// expand under NFKC: "ﷺ" (one character, U+FDFA) becomes 18, "⑽⑽" (two) becomes "(10)(10)".
// (Before the fix, both were accepted.)
func TestAttackPasswordsShortAsReceivedAreTooShort(t *testing.T) {
	e := newEnv(t)
	for i, pw := range []string{"\ufdfa", "⑽⑽", "㍿㍿"} {
		r := e.post("/auth/register/", obj{"first_name": "Ann", "last_name": "Lee", "email": fmt.Sprintf("short%d@example.com", i),
			"phone_no": newPhone(), "password": pw})
		if r.status != 400 || !strings.Contains(r.raw, "This password is too short.") {
			t.Errorf("password %q (%d characters as received): %d %s, want 400 too short", pw, len([]rune(pw)), r.status, r.raw)
		}
	}
}
