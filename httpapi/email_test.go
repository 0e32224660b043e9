package httpapi_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

// The tests of the contract's "Email verification and change": verification codes at
// registration and on request, the required mode's refusal, and moving an account to another
// address. Every email is read from the SMTP server.

const (
	verified         = `{"detail":"Email verified"}`
	verificationSent = `{"detail":"A verification email was sent"}`
	notVerified      = `{"detail":"Email address is not verified.","code":"email_not_verified"}`
	emailTaken       = `{"email":["user with this email already exists."]}`

	subjectVerify  = "Verify your email address"
	subjectChange  = "Confirm your new email address"
	subjectChanged = "Your email address was changed"
	subjectWelcome = "Set your password"
)

// Text a requester types into a registration: no email may carry it.
const (
	typedFirst   = "Typedfirstname"
	typedLast    = "Typedlastname"
	typedAddress = "Typed Street, click evil.example"
)

func withVerification(mode auth.EmailVerification) setup {
	return func(e *env) { e.cfg.EmailVerification = mode }
}

// registerTyped registers email with the typed names and address, with a password unless
// password is nil, and returns the phone number it used.
func (e *env) registerTyped(email string, password *string) string {
	e.t.Helper()
	phone := newPhone()
	body := obj{"first_name": typedFirst, "last_name": typedLast, "email": email, "phone_no": phone, "address": typedAddress}
	if password != nil {
		body["password"] = *password
	}
	want(e.t, e.post("/auth/register/", body), 201, `{"detail":"User created successfully"}`)
	return phone
}

// nextMail waits for the first email after the first before received that went to to with a
// subject holding subject.
func (e *env) nextMail(before int, to, subject string) authtest.Mail {
	e.t.Helper()
	for n := before + 1; ; n++ {
		msgs := e.smtp.WaitFor(n)
		for _, m := range msgs[before:] {
			if strings.EqualFold(m.To, to) && strings.Contains(m.Subject, subject) {
				return m
			}
		}
	}
}

// mailCode waits for such an email and returns its code.
func (e *env) mailCode(before int, to, subject string) string {
	e.t.Helper()
	return authtest.Code(e.t, e.nextMail(before, to, subject))
}

// outboxRows counts the emails ever queued: a request that sends nothing adds none.
func (e *env) outboxRows() int {
	e.t.Helper()
	var n int
	if err := e.store.DB().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// bearer sends body as JSON (none when nil) with the access token.
func (e *env) bearer(method, path, access string, body any) response {
	e.t.Helper()
	raw, contentType := "", ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		raw, contentType = string(b), "application/json"
	}
	return e.do(method, path, contentType, raw, "Authorization", "Bearer "+access)
}

func (e *env) profile(access string) response {
	e.t.Helper()
	r := e.bearer("GET", "/auth/me/", access, nil)
	if r.status != 200 {
		e.t.Fatalf("GET /auth/me/: %d %s", r.status, r.raw)
	}
	return r
}

func (e *env) emailVerified(access string) bool {
	e.t.Helper()
	v, ok := e.profile(access).body["email_verified"].(bool)
	if !ok {
		e.t.Fatal("no email_verified in the profile")
	}
	return v
}

// wrongCode is a code that is not code.
func wrongCode(code string) string {
	last := (code[5]-'0'+1)%10 + '0'
	return code[:5] + string(rune(last))
}

var digitRuns = regexp.MustCompile(`\d{6,}`)

// checkMails checks every email received: one that carries a code holds it as its only run of
// six digits, a notice holds no such run, and none holds the text a requester typed (typed:
// beyond the registration's names and address, whatever else the test sent that is not the
// recipient's own address).
func (e *env) checkMails(typed ...string) {
	e.t.Helper()
	typed = append(typed, typedFirst, typedLast, "evil.example")
	msgs := e.smtp.Received()
	if len(msgs) == 0 {
		e.t.Fatal("no email to check")
	}
	for _, m := range msgs {
		switch m.Subject {
		case subjectVerify, subjectChange, subjectWelcome, "Your password reset code":
			authtest.Code(e.t, m)
		default:
			if runs := digitRuns.FindAllString(m.Text, -1); len(runs) != 0 {
				e.t.Errorf("notice %q holds digits %q", m.Subject, runs)
			}
		}
		for _, s := range typed {
			if strings.EqualFold(s, m.To) {
				continue
			}
			if strings.Contains(strings.ToLower(m.Raw), strings.ToLower(s)) || strings.Contains(strings.ToLower(m.Text), strings.ToLower(s)) {
				e.t.Errorf("email %q to %s carries the typed text %q:\n%s", m.Subject, m.To, s, m.Text)
			}
		}
	}
}

func strPtr(s string) *string { return &s }

// In send mode registration with a password mails a verification code, signing in does not wait
// for it, and the code proves the address once.
func TestEmailVerificationSendMode(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	phone := e.registerTyped("send@example.com", strPtr(testPassword))
	code := e.mailCode(0, "send@example.com", subjectVerify)
	access, _ := e.login("send@example.com", testPassword)
	if e.emailVerified(access) {
		t.Fatal("verified before the code was used")
	}
	want(t, e.post("/auth/email/verify/", obj{"email": "Send@EXAMPLE.com", "otp": code}), 200, verified)
	if !e.emailVerified(access) {
		t.Fatal("email_verified false after the code was used")
	}
	// The code is used up.
	want(t, e.post("/auth/email/verify/", obj{"email": "send@example.com", "otp": code}), 400, badCode)
	e.checkMails(phone, typedAddress)
}

func TestEmailVerificationRefusals(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	e.registerTyped("refused@example.com", strPtr(testPassword))
	code := e.mailCode(0, "refused@example.com", subjectVerify)
	access, _ := e.login("refused@example.com", testPassword)

	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": wrongCode(code)}), 400, badCode)
	want(t, e.post("/auth/email/verify/", obj{"email": "nobody@example.com", "otp": code}), 400, badCode)
	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": "12345"}), 400, badCode)

	// Replaced: a resend's code replaces the registration's.
	before := len(e.smtp.Received())
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "refused@example.com"}), 200, verificationSent)
	fresh := e.mailCode(before, "refused@example.com", subjectVerify)
	if fresh == code {
		t.Fatal("the resend mailed the same code")
	}
	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": code}), 400, badCode)

	// Expired: 10 minutes.
	e.clock.Advance(10*time.Minute + time.Second)
	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": fresh}), 400, badCode)
	access, _ = e.login("refused@example.com", testPassword) // the access token expired too
	if e.emailVerified(access) {
		t.Fatal("verified by a refused code")
	}

	// Five wrong tries kill a code: the right one then fails.
	before = len(e.smtp.Received())
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "refused@example.com"}), 200, verificationSent)
	last := e.mailCode(before, "refused@example.com", subjectVerify)
	for range 5 {
		want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": wrongCode(last)}), 400, badCode)
	}
	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": last}), 400, badCode)
	if e.emailVerified(access) {
		t.Fatal("verified by a dead code")
	}

	// Four wrong tries leave it alive.
	before = len(e.smtp.Received())
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "refused@example.com"}), 200, verificationSent)
	last = e.mailCode(before, "refused@example.com", subjectVerify)
	for range 4 {
		want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": wrongCode(last)}), 400, badCode)
	}
	want(t, e.post("/auth/email/verify/", obj{"email": "refused@example.com", "otp": last}), 200, verified)
	if !e.emailVerified(access) {
		t.Fatal("not verified")
	}
	e.checkMails()
}

func TestEmailVerificationFieldErrors(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	required := `["This field is required."]`
	blank := `["This field may not be blank."]`
	null := `["This field may not be null."]`
	for _, tt := range []struct {
		path string
		body obj
		want string
	}{
		{"/auth/email/verify/", obj{}, `{"email":` + required + `,"otp":` + required + `}`},
		{"/auth/email/verify/", obj{"email": "  ", "otp": ""}, `{"email":` + blank + `,"otp":` + blank + `}`},
		{"/auth/email/verify/", obj{"email": nil, "otp": nil}, `{"email":` + null + `,"otp":` + null + `}`},
		{"/auth/email/verify/", obj{"email": strings.Repeat("a", 243) + "@example.com", "otp": strings.Repeat("1", 65)},
			`{"email":["Ensure this field has no more than 254 characters."],"otp":["Ensure this field has no more than 64 characters."]}`},
		{"/auth/email/verify/", obj{"email": 12, "otp": []string{"123456"}}, `{"email":["Not a valid string."],"otp":["Not a valid string."]}`},
		{"/auth/email/verify/resend/", obj{}, `{"email":` + required + `}`},
		{"/auth/email/verify/resend/", obj{"email": " "}, `{"email":` + blank + `}`},
		{"/auth/email/verify/resend/", obj{"email": nil}, `{"email":` + null + `}`},
		{"/auth/email/verify/resend/", obj{"email": strings.Repeat("a", 243) + "@example.com"}, `{"email":["Ensure this field has no more than 254 characters."]}`},
		{"/auth/email/verify/resend/", obj{"email": "not an address"}, `{"email":["Enter a valid email address."]}`},
	} {
		want(t, e.post(tt.path, tt.body), 400, tt.want)
	}
	if n := e.outboxRows(); n != 0 {
		t.Fatalf("%d emails queued by refused requests", n)
	}
}

// In required mode a correct password of an unverified account is refused with 403, only after
// the password was found right; a wrong one gets the usual 401, verified or not.
func TestEmailVerificationRequiredMode(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationRequired))
	e.registerTyped("req@example.com", strPtr(testPassword))
	e.registerTyped("other@example.com", strPtr(testPassword))
	code := e.mailCode(0, "req@example.com", subjectVerify)
	otherCode := e.mailCode(0, "other@example.com", subjectVerify)

	want(t, e.post("/auth/token/", obj{"email": "req@example.com", "password": "a wrong password"}), 401, noAccount)
	r := e.post("/auth/token/", obj{"email": "req@example.com", "password": testPassword})
	want(t, r, 403, notVerified)
	want(t, e.post("/auth/token/", obj{"email": "REQ@example.com", "password": testPassword}), 403, notVerified)

	// The other account is verified: a wrong password is answered the same, for it, for the
	// unverified one and for an unknown email.
	want(t, e.post("/auth/email/verify/", obj{"email": "other@example.com", "otp": otherCode}), 200, verified)
	wrong := func(email string) response {
		return e.post("/auth/token/", obj{"email": email, "password": "a wrong password"})
	}
	unverified, verifiedAcct, unknown := wrong("req@example.com"), wrong("other@example.com"), wrong("nobody@example.com")
	for _, r := range []response{unverified, verifiedAcct, unknown} {
		want(t, r, 401, noAccount)
		if r.header.Get("WWW-Authenticate") != unverified.header.Get("WWW-Authenticate") {
			t.Errorf("headers differ: %v and %v", r.header, unverified.header)
		}
	}
	e.login("other@example.com", testPassword)

	want(t, e.post("/auth/email/verify/", obj{"email": "req@example.com", "otp": code}), 200, verified)
	e.login("req@example.com", testPassword)
	e.checkMails()
}

func TestEmailVerificationOffMode(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationOff))
	e.registerTyped("off@example.com", strPtr(testPassword))
	if n := e.outboxRows(); n != 0 {
		t.Fatalf("%d emails queued by a registration in off mode", n)
	}
	// A reset's email is the only one that arrives.
	code := e.resetCode("off@example.com")
	if msgs := e.smtp.Received(); len(msgs) != 1 || msgs[0].Subject == subjectVerify {
		t.Fatalf("emails %v, want the reset code's only", msgs)
	}
	want(t, e.post("/auth/password/reset/verify/", obj{"email": "off@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	access, _ := e.login("off@example.com", testPassword)
	if e.emailVerified(access) {
		t.Fatal("verified without a code")
	}
}

// Registration without a password mails the code that sets one, not a verification code; setting
// the password with it proves the address.
func TestRegistrationWithoutPasswordVerifiesByTheSetPasswordCode(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationRequired))
	phone := e.registerTyped("nopw@example.com", nil)
	code := e.mailCode(0, "nopw@example.com", subjectWelcome)
	// No verification code was mailed besides it.
	if n := e.outboxRows(); n != 1 {
		t.Fatalf("%d emails queued, want the set-password code's only", n)
	}
	want(t, e.post("/auth/email/verify/", obj{"email": "nopw@example.com", "otp": code}), 400, badCode) // not a verification code
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "nopw@example.com", "otp": code, "password": "a password of my own"}),
		200, `{"detail":"Password has been reset"}`)
	access, _ := e.login("nopw@example.com", "a password of my own") // required mode: only a verified account signs in
	if !e.emailVerified(access) {
		t.Fatal("not verified after setting the password with the mailed code")
	}
	e.checkMails(phone, typedAddress)
}

func TestVerificationResend(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	e.registerTyped("resend@example.com", strPtr(testPassword))
	first := e.mailCode(0, "resend@example.com", subjectVerify)

	// An unknown address: the same answer, nothing sent.
	rows := e.outboxRows()
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "unknown@example.com"}), 200, verificationSent)
	if n := e.outboxRows(); n != rows {
		t.Fatal("an email was queued for an unknown address")
	}

	// An unverified one: a new code that replaces the old.
	before := len(e.smtp.Received())
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "RESEND@example.com"}), 200, verificationSent)
	second := e.mailCode(before, "resend@example.com", subjectVerify)
	want(t, e.post("/auth/email/verify/", obj{"email": "resend@example.com", "otp": first}), 400, badCode)
	want(t, e.post("/auth/email/verify/", obj{"email": "resend@example.com", "otp": second}), 200, verified)

	// A verified one: the same answer, nothing sent.
	rows = e.outboxRows()
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "resend@example.com"}), 200, verificationSent)
	if n := e.outboxRows(); n != rows {
		t.Fatal("an email was queued for a verified address")
	}
	// Sent: the registration's code and the resend's, nothing else.
	e.sender.Drain(t.Context())
	if n := len(e.smtp.Received()); n != 2 {
		t.Fatalf("%d emails, want 2", n)
	}
	e.checkMails()
}

func TestVerificationResendHourlyCap(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend), func(e *env) { e.cfg.CodesPerHour = 5 })
	e.registerTyped("capped@example.com", strPtr(testPassword)) // its code is the first of the hour
	e.mailCode(0, "capped@example.com", subjectVerify)
	for _, email := range []string{"capped@example.com", "nobody@example.com"} {
		n := 5
		if email == "capped@example.com" {
			n = 4
		}
		for range n {
			before := len(e.smtp.Received())
			want(t, e.post("/auth/email/verify/resend/", obj{"email": email}), 200, verificationSent)
			if email == "capped@example.com" {
				e.mailCode(before, email, subjectVerify) // the one before it is sent before it replaces it
			}
			e.clock.Advance(time.Minute)
		}
		rows := e.outboxRows()
		r := e.post("/auth/email/verify/resend/", obj{"email": strings.ToUpper(email)})
		if e.outboxRows() != rows {
			t.Fatalf("%s: a throttled resend queued an email", email)
		}
		// The hour runs from the first code: 4 minutes before for the account (its registration's),
		// 5 minutes before for the unknown address.
		retry := map[string]string{"capped@example.com": "3360", "nobody@example.com": "3300"}[email]
		want(t, r, 429, `{"detail":"Request was throttled. Expected available in `+retry+` seconds."}`)
		if got := r.header.Get("Retry-After"); got != retry {
			t.Fatalf("%s: Retry-After %q, want %s", email, got, retry)
		}
	}
	// The unknown address was throttled as the known one was: the answer tells nothing.
	e.clock.Advance(time.Hour)
	want(t, e.post("/auth/email/verify/resend/", obj{"email": "nobody@example.com"}), 200, verificationSent)
}

// A verified email keeps its password when an authoritative Google identity is linked later; an
// unverified one loses it (whoever set it never proved the address).
func TestVerifiedEmailKeepsItsPasswordOnGoogleLink(t *testing.T) {
	e := newEnv(t, withGoogle, withVerification(auth.VerificationSend))
	e.registerTyped("kept@gmail.com", strPtr(testPassword))
	e.registerTyped("lost@gmail.com", strPtr(testPassword))
	code := e.mailCode(0, "kept@gmail.com", subjectVerify)
	e.mailCode(0, "lost@gmail.com", subjectVerify)
	want(t, e.post("/auth/email/verify/", obj{"email": "kept@gmail.com", "otp": code}), 200, verified)
	e.clock.Advance(time.Second)

	e.wantSignedIn(e.social(e.google.IDToken(authtest.GoogleUser{Sub: "41", Email: "kept@gmail.com", EmailVerified: true}, nil)), false)
	e.wantSignedIn(e.social(e.google.IDToken(authtest.GoogleUser{Sub: "42", Email: "lost@gmail.com", EmailVerified: true}, nil)), false)
	e.login("kept@gmail.com", testPassword)
	want(t, e.post("/auth/token/", obj{"email": "lost@gmail.com", "password": testPassword}), 401, noAccount)
}

// changeEmail asks to move the account of access to newEmail and returns the code mailed there.
func (e *env) changeEmail(access, newEmail, password string) string {
	e.t.Helper()
	before := len(e.smtp.Received())
	want(e.t, e.bearer("POST", "/auth/email/change/", access, obj{"email": newEmail, "password": password}), 200, verificationSent)
	return e.mailCode(before, newEmail, subjectChange)
}

func TestEmailChange(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	phone := e.registerTyped("old@example.com", strPtr(testPassword))
	e.mailCode(0, "old@example.com", subjectVerify)
	access, _ := e.login("old@example.com", testPassword)
	before := e.profile(access).body

	code := e.changeEmail(access, "New.Home@Example.NET", testPassword)
	// Nothing changes before the code is used.
	e.login("old@example.com", testPassword)
	want(t, e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": wrongCode(code)}), 400, badCode)

	r := e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": code})
	exp := map[string]any{}
	for k, v := range before {
		exp[k] = v
	}
	exp["email"], exp["email_verified"] = "New.Home@example.net", true
	expJSON, _ := json.Marshal(exp)
	want(t, r, 200, string(expJSON))
	want(t, e.profile(access), 200, string(expJSON))

	// The old address is told, naming the new one only partly.
	notice := e.nextMail(0, "old@example.com", subjectChanged)
	if !strings.Contains(notice.Text, "N***@example.net") {
		t.Errorf("the notice does not name the new address partly:\n%s", notice.Text)
	}
	// The code went to the new address only.
	for _, m := range e.smtp.Received() {
		if strings.Contains(m.Raw, code) && !strings.EqualFold(m.To, "new.home@example.net") {
			t.Errorf("the code went to %s", m.To)
		}
		if m.Subject == subjectChange && !strings.EqualFold(m.To, "new.home@example.net") {
			t.Errorf("a change code went to %s", m.To)
		}
	}
	e.checkMails(phone, typedAddress, "new.home@example.net")

	// The new address signs in, in any case; the old one no longer does, and can be registered.
	e.login("new.home@example.net", testPassword)
	e.login("NEW.HOME@example.net", testPassword)
	want(t, e.post("/auth/token/", obj{"email": "old@example.com", "password": testPassword}), 401, noAccount)
	// The code is used up.
	want(t, e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": code}), 400, badCode)
	e.register("old@example.com")
}

func TestEmailChangeRefusals(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 3 })
	e.register("mine@example.com")
	e.register("taken@example.com")
	access, _ := e.login("mine@example.com", testPassword)
	change := func(body obj) response { return e.bearer("POST", "/auth/email/change/", access, body) }

	want(t, change(obj{"email": "fresh@example.com"}), 400, `{"password":["This field is required."]}`)
	want(t, change(obj{"email": "fresh@example.com", "password": ""}), 400, `{"password":["This field may not be blank."]}`)
	want(t, change(obj{"email": "not an address", "password": testPassword}), 400, `{"email":["Enter a valid email address."]}`)
	want(t, change(obj{"password": testPassword}), 400, `{"email":["This field is required."]}`)
	want(t, change(obj{"email": "TAKEN@Example.com", "password": testPassword}), 400, emailTaken)
	want(t, change(obj{"email": "Mine@example.com", "password": testPassword}), 400, emailTaken)
	want(t, e.do("POST", "/auth/email/change/", "application/json", `{"email":"fresh@example.com","password":"x"}`), 401,
		`{"detail":"Authentication credentials were not provided."}`)
	want(t, e.do("POST", "/auth/email/change/confirm/", "application/json", `{"otp":"123456"}`), 401,
		`{"detail":"Authentication credentials were not provided."}`)
	want(t, e.bearer("POST", "/auth/email/change/confirm/", access, obj{}), 400, `{"otp":["This field is required."]}`)
	// No code was asked for: any code is a bad one.
	want(t, e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": "123456"}), 400, badCode)
	if n := e.outboxRows(); n != 0 {
		t.Fatalf("%d emails queued by refused requests", n)
	}

	// A wrong password counts as a failed sign-in of the account's email.
	for range 3 {
		want(t, change(obj{"email": "fresh@example.com", "password": "not my password"}), 400, `{"password":["Incorrect password."]}`)
	}
	if r := e.post("/auth/token/", obj{"email": "mine@example.com", "password": testPassword}); r.status != 429 {
		t.Fatalf("sign-in after 3 wrong passwords at the email change (limit 3): %d %s, want 429", r.status, r.raw)
	}
	if n := e.outboxRows(); n != 0 {
		t.Fatalf("%d emails queued by refused requests", n)
	}
}

// Someone registers the new address between the request and the confirm: the confirm is refused
// and nothing changes.
func TestEmailChangeToAnAddressTakenMeanwhile(t *testing.T) {
	e := newEnv(t)
	e.register("stay@example.com")
	access, _ := e.login("stay@example.com", testPassword)
	code := e.changeEmail(access, "contested@example.com", testPassword)
	e.register("Contested@example.com")
	want(t, e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": code}), 400, emailTaken)
	if got := e.profile(access).str("email"); got != "stay@example.com" {
		t.Fatalf("email %q after a refused confirm", got)
	}
	e.login("stay@example.com", testPassword)
	e.login("contested@example.com", testPassword) // still the newcomer's
	for _, m := range e.smtp.Received() {
		if m.Subject == subjectChanged {
			t.Fatalf("a change notice went to %s", m.To)
		}
	}
}

// A reset or verification code mailed to the old address before the change dies with it, even
// when someone registers the old address afterwards.
func TestEmailChangeKillsTheOldAddressCodes(t *testing.T) {
	e := newEnv(t, withVerification(auth.VerificationSend))
	e.register("leaving@example.com")
	verification := e.mailCode(0, "leaving@example.com", subjectVerify)
	access, _ := e.login("leaving@example.com", testPassword)
	reset := e.resetCode("leaving@example.com")
	code := e.changeEmail(access, "arrived@example.com", testPassword)
	if r := e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": code}); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	verifyReset := func() response {
		return e.post("/auth/password/reset/verify/", obj{"email": "leaving@example.com", "otp": reset})
	}
	want(t, verifyReset(), 400, badCode)
	want(t, e.post("/auth/email/verify/", obj{"email": "leaving@example.com", "otp": verification}), 400, badCode)
	e.register("leaving@example.com") // someone else takes the address
	want(t, verifyReset(), 400, badCode)
	want(t, e.post("/auth/email/verify/", obj{"email": "leaving@example.com", "otp": verification}), 400, badCode)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "leaving@example.com", "otp": reset, "password": "a takeover password"}), 400, badCode)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "arrived@example.com", "otp": reset, "password": "a takeover password"}), 400, badCode)
	e.login("arrived@example.com", testPassword)
	e.login("leaving@example.com", testPassword) // the newcomer's own password
}

// Email change codes follow the reset codes' rules: 5 tries, 10 minutes, 5 an hour.
func TestEmailChangeCodeRules(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.CodesPerHour = 5 })
	e.register("rules@example.com")
	access, _ := e.login("rules@example.com", testPassword)
	confirm := func(otp string) response {
		return e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": otp})
	}

	// Expired.
	code := e.changeEmail(access, "target@example.com", testPassword)
	e.clock.Advance(10*time.Minute + time.Second)
	access, _ = e.login("rules@example.com", testPassword) // the access token expired too
	want(t, confirm(code), 400, badCode)

	// Replaced.
	old := e.changeEmail(access, "target@example.com", testPassword)
	code = e.changeEmail(access, "target@example.com", testPassword)
	want(t, confirm(old), 400, badCode)

	// Five wrong tries kill it.
	for range 5 {
		want(t, confirm(wrongCode(code)), 400, badCode)
	}
	want(t, confirm(code), 400, badCode)

	// The 5th code of the hour (the first three were 10 minutes ago and later) is the last.
	e.changeEmail(access, "target@example.com", testPassword)
	e.changeEmail(access, "target@example.com", testPassword)
	r := e.bearer("POST", "/auth/email/change/", access, obj{"email": "Target@example.com", "password": testPassword})
	// The first code is 601 s old: the hour ends in 2999 s.
	want(t, r, 429, `{"detail":"Request was throttled. Expected available in 2999 seconds."}`)
	if got := r.header.Get("Retry-After"); got != "2999" {
		t.Fatalf("Retry-After %q", got)
	}
	if got := e.profile(access).str("email"); got != "rules@example.com" {
		t.Fatalf("email %q", got)
	}
	e.checkMails("target@example.com")
}

// Two accounts ask to move to one address: the first to confirm gets it, the second is refused.
func TestEmailChangeTwoAccountsToOneAddress(t *testing.T) {
	e := newEnv(t)
	e.register("first@example.com")
	e.register("second@example.com")
	a, _ := e.login("first@example.com", testPassword)
	b, _ := e.login("second@example.com", testPassword)
	codeA := e.changeEmail(a, "wanted@example.com", testPassword)
	codeB := e.changeEmail(b, "Wanted@example.com", testPassword)
	if r := e.bearer("POST", "/auth/email/change/confirm/", b, obj{"otp": codeB}); r.status != 200 || r.str("email") != "Wanted@example.com" {
		t.Fatalf("the first confirm: %d %s", r.status, r.raw)
	}
	want(t, e.bearer("POST", "/auth/email/change/confirm/", a, obj{"otp": codeA}), 400, emailTaken)
	if got := e.profile(a).str("email"); got != "first@example.com" {
		t.Fatalf("email %q after a refused confirm", got)
	}
	e.login("first@example.com", testPassword)
	e.login("wanted@example.com", testPassword)
	want(t, e.post("/auth/token/", obj{"email": "second@example.com", "password": testPassword}), 401, noAccount)
}
