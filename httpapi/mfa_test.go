package httpapi_test

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	auth "github.com/authd/authd"
)

const (
	mfaRequiredDetail = "Two-factor authentication code required."
	mfaEnabled        = `{"detail":"Two-factor authentication is already enabled."}`
	mfaNotEnabled     = `{"detail":"Two-factor authentication is not enabled."}`
	step              = 30 * time.Second
)

// totpCode is the code of secret (base32) for the step that holds at, as an authenticator app
// computes it: RFC 6238, SHA-1, 6 digits, 30 s.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := hotp.GenerateCodeCustom(secret, uint64(at.Unix()/30), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// codeAt is the code of secret for the step offset steps away from the clock's.
func (e *env) codeAt(secret string, offset int) string {
	return totpCode(e.t, secret, e.clock.Now().Add(time.Duration(offset)*step))
}

// wrongCode is a 6-digit code that is none of secret's from two steps before to two after.
func (e *env) wrongCode(secret string) string {
	for n := 0; ; n++ {
		c := fmt.Sprintf("%06d", (123456+n*7919)%1000000)
		clash := false
		for off := -2; off <= 2; off++ {
			clash = clash || c == e.codeAt(secret, off)
		}
		if !clash {
			return c
		}
	}
}

// nextStep moves the clock to the middle of the next 30-second step, so that the codes of the
// steps around it were never used.
func (e *env) nextStep() {
	into := time.Duration(e.clock.Now().Unix()%30) * time.Second
	e.clock.Advance(step - into + 15*time.Second)
}

// authed sends body as JSON with the access token.
func (e *env) authed(method, path, access string, body any) response {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(method, path, "application/json", string(b), "Authorization", "Bearer "+access)
}

// mfaStatus checks the "mfa" member of GET /auth/me/.
func (e *env) wantMFA(access string, on bool, left int) {
	e.t.Helper()
	r := e.authed("GET", "/auth/me/", access, nil)
	got, _ := json.Marshal(r.body["mfa"])
	if want := fmt.Sprintf(`{"recovery_codes_left":%d,"totp":%t}`, left, on); r.status != 200 || string(got) != want {
		e.failf(r, "GET /auth/me/ mfa %s, want %s", got, want)
	}
}

func (e *env) failf(r response, format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf(format+" (%d %s)", append(args, r.status, r.raw)...)
}

var recoveryShape = regexp.MustCompile(`^[a-z2-7]{5}-[a-z2-7]{5}$`)

// wantRecoveryCodes checks a 200 {"recovery_codes": [...]} answer and returns the codes.
func wantRecoveryCodes(t testing.TB, r response) []string {
	t.Helper()
	var body struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil || r.status != 200 || len(r.body) != 1 {
		t.Fatalf("got %d %s, want 200 with recovery_codes", r.status, r.raw)
	}
	codes := body.RecoveryCodes
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10: %s", len(codes), r.raw)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryShape.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q: want distinct xxxxx-xxxxx of lower-case base32 (%s)", c, r.raw)
		}
		seen[c] = true
	}
	return codes
}

// enrolled is an account with two-factor sign-in on.
type enrolled struct {
	email, secret, access string
	recovery              []string
}

// enrol registers email and turns two-factor sign-in on for it; the clock is then in a step whose
// code was not used.
func (e *env) enrol(email string) enrolled {
	e.t.Helper()
	e.register(email)
	access, _ := e.login(email, testPassword)
	return e.enrolSignedIn(email, access, testPassword)
}

func (e *env) enrolSignedIn(email, access, password string) enrolled {
	e.t.Helper()
	body := obj{}
	if password != "" {
		body["password"] = password
	}
	r := e.authed("POST", "/auth/mfa/totp/", access, body)
	secret := r.str("secret")
	if r.status != 200 || secret == "" {
		e.failf(r, "enrolment of %s", email)
	}
	e.nextStep()
	codes := wantRecoveryCodes(e.t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.codeAt(secret, 0)}))
	e.nextStep()
	return enrolled{email, secret, access, codes}
}

// wantMFARequired checks a 403 mfa_required answer and returns its mfa_token.
func wantMFARequired(t testing.TB, r response) string {
	t.Helper()
	if err := mfaRequired(r); err != nil {
		t.Fatal(err)
	}
	return r.str("mfa_token")
}

func mfaRequired(r response) error {
	if r.status != 403 || len(r.body) != 3 || r.str("detail") != mfaRequiredDetail || r.str("code") != "mfa_required" || len(r.str("mfa_token")) < 40 {
		return fmt.Errorf("got %d %s, want 403 mfa_required with an mfa_token", r.status, r.raw)
	}
	return nil
}

// mfaToken signs in with email's password and returns the mfa_token of the answer.
func (e *env) mfaToken(email string) string {
	e.t.Helper()
	return wantMFARequired(e.t, e.post("/auth/token/", obj{"email": email, "password": testPassword}))
}

func (e *env) finishMFA(token, code string) response {
	e.t.Helper()
	return e.post("/auth/token/mfa/", obj{"mfa_token": token, "otp": code})
}

// wantPair checks a 200 {"access", "refresh"} answer whose access token has amr, and that both
// tokens work; it returns the access token.
func (e *env) wantPair(r response, amr ...string) string {
	e.t.Helper()
	if r.status != 200 || len(r.body) != 2 || r.str("access") == "" || r.str("refresh") == "" {
		e.failf(r, "want 200 with a token pair")
	}
	if got := tokenAMR(e.t, r.str("access")); !slices.Equal(got, amr) {
		e.failf(r, "access amr %q, want %q", got, amr)
	}
	want(e.t, e.verify(r.str("access")), 200, `{}`)
	next := e.refresh(r.str("refresh"))
	if next.status != 200 {
		e.failf(next, "refresh of the pair")
	}
	if got := tokenAMR(e.t, next.str("access")); !slices.Equal(got, amr) {
		e.failf(next, "refreshed access amr %q, want %q", got, amr)
	}
	return r.str("access")
}

// amrOf decodes the amr claim of a JWT's payload.
func tokenAMR(t testing.TB, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.AMR
}

func TestTOTPEnrolment(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.Issuer = "Acme Auth & Co/EU" })
	const email = "ada+2fa@example.com"
	e.register(email)
	access, _ := e.login(email, testPassword)
	for _, path := range []string{"/auth/mfa/totp/", "/auth/mfa/totp/confirm/", "/auth/mfa/recovery-codes/"} {
		want(t, e.post(path, obj{"password": testPassword, "otp": "123456"}), 401, `{"detail":"Authentication credentials were not provided."}`)
	}
	want(t, e.do("DELETE", "/auth/mfa/totp/", "application/json", `{"otp":"123456"}`), 401, `{"detail":"Authentication credentials were not provided."}`)
	e.wantMFA(access, false, 0)

	if r := e.authed("POST", "/auth/mfa/totp/", access, obj{}); r.status != 400 || r.body["password"] == nil {
		e.failf(r, "enrolment without the password: want 400 on password")
	}
	want(t, e.authed("POST", "/auth/mfa/totp/", access, obj{"password": "not the password"}), 400, `{"password":["Incorrect password."]}`)
	want(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": "123456"}), 400, badCode) // nothing enrolled

	r := e.authed("POST", "/auth/mfa/totp/", access, obj{"password": testPassword})
	first := checkEnrolment(t, r, "Acme Auth & Co/EU", email)
	e.wantMFA(access, false, 0) // not on until confirmed

	// A second call replaces the unconfirmed enrolment: the first secret's codes fail.
	second := checkEnrolment(t, e.authed("POST", "/auth/mfa/totp/", access, obj{"password": testPassword}), "Acme Auth & Co/EU", email)
	if second == first {
		t.Fatal("a second enrolment kept the secret")
	}
	e.nextStep()
	if e.codeAt(first, 0) != e.codeAt(second, 0) {
		want(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.codeAt(first, 0)}), 400, badCode)
	}
	want(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.wrongCode(second)}), 400, badCode)
	want(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{}), 400, `{"otp":["This field is required."]}`)
	e.wantMFA(access, false, 0)
	wantRecoveryCodes(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.codeAt(second, 0)}))
	e.wantMFA(access, true, 10)

	want(t, e.authed("POST", "/auth/mfa/totp/", access, obj{"password": testPassword}), 400, mfaEnabled)
	e.nextStep()
	want(t, e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.codeAt(second, 0)}), 400, mfaEnabled)
	e.wantPair(e.finishMFA(e.mfaToken(email), e.codeAt(second, 0)), "pwd", "otp", "mfa")
}

// checkEnrolment checks an enrolment answer against the contract and returns its secret.
func checkEnrolment(t *testing.T, r response, issuer, email string) string {
	t.Helper()
	secret, link := r.str("secret"), r.str("otpauth_url")
	if r.status != 200 || len(r.body) != 2 || secret == "" || link == "" {
		t.Fatalf("got %d %s, want 200 with secret and otpauth_url", r.status, r.raw)
	}
	if strings.Contains(secret, "=") || strings.ToUpper(secret) != secret {
		t.Fatalf("secret %q: want base32 in upper case without padding", secret)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q decodes to %d bytes (%v), want 20", secret, len(raw), err)
	}
	if strings.ContainsAny(link, " ") {
		t.Fatalf("otpauth_url %q is not escaped", link)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	label := strings.TrimPrefix(u.EscapedPath(), "/")
	if u.Scheme != "otpauth" || u.Host != "totp" || label != url.PathEscape(issuer)+":"+url.PathEscape(email) {
		t.Fatalf("otpauth_url %q: want otpauth://totp/<issuer>:<email> escaped", link)
	}
	if !strings.HasPrefix(link, "otpauth://totp/"+url.PathEscape(issuer)+":"+url.PathEscape(email)+"?") {
		t.Fatalf("otpauth_url %q does not start with the escaped label", link)
	}
	q := u.Query()
	wantQuery := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	if q.Encode() != wantQuery.Encode() {
		t.Fatalf("otpauth_url query %v, want %v", q, wantQuery)
	}
	// RFC 3986's escaping, a space as %20: authenticator apps show form encoding's "+" as it is.
	if !strings.Contains(link, "issuer="+strings.ReplaceAll(url.QueryEscape(issuer), "+", "%20")+"&") {
		t.Fatalf("otpauth_url %q: the issuer is not URL-escaped with %%20 for a space", link)
	}
	// An authenticator's library reads it back.
	key, err := otp.NewKeyFromURL(link)
	if err != nil || key.Type() != "totp" || key.Issuer() != issuer || key.AccountName() != email || key.Secret() != secret ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("otpauth_url %q read as %+v (%v)", link, key, err)
	}
	return secret
}

func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("two@example.com")
	e.register("plain@example.com")

	// Before the password is right the answer is the usual 401, never the 403.
	want(t, e.post("/auth/token/", obj{"email": a.email, "password": "wrong password here"}), 401, noAccount)
	want(t, e.post("/auth/token/", obj{"email": a.email, "password": "wrong password here", "otp": e.codeAt(a.secret, 0)}), 401, noAccount)
	want(t, e.post("/auth/token/", obj{"email": "nobody@example.com", "password": testPassword}), 401, noAccount)
	// Without two-factor on, a sign-in needs no code.
	e.wantPair(e.post("/auth/token/", obj{"email": "plain@example.com", "password": testPassword}), "pwd")

	tok := e.mfaToken(a.email)
	if tok2 := e.mfaToken("TWO@example.com"); tok2 == tok {
		t.Fatal("two sign-ins got one mfa_token")
	}
	want(t, e.post("/auth/token/mfa/", obj{"mfa_token": tok}), 400, `{"otp":["This field is required."]}`)
	want(t, e.post("/auth/token/mfa/", obj{"otp": "123456"}), 400, `{"mfa_token":["This field is required."]}`)
	code := e.codeAt(a.secret, 0)
	e.wantPair(e.finishMFA(tok, code), "pwd", "otp", "mfa")

	// The same code again, with a new mfa_token, inside its window: refused.
	want(t, e.finishMFA(e.mfaToken(a.email), code), 400, badCode)
	e.clock.Advance(10 * time.Second) // same step still
	want(t, e.finishMFA(e.mfaToken(a.email), code), 400, badCode)
	want(t, e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": code}), 400, badCode)

	// The step before and the step after are accepted.
	e.nextStep()
	e.nextStep()
	e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, -1)), "pwd", "otp", "mfa")
	e.nextStep()
	e.nextStep()
	after := e.codeAt(a.secret, 1)
	e.wantPair(e.finishMFA(e.mfaToken(a.email), after), "pwd", "otp", "mfa")
	// A step older than one used is refused, even the current one.
	if now := e.codeAt(a.secret, 0); now != after {
		want(t, e.finishMFA(e.mfaToken(a.email), now), 400, badCode)
	}
	// Two steps off either way: refused.
	for range 4 {
		e.nextStep()
	}
	for _, off := range []int{-2, 2, 3, -3} {
		c := e.codeAt(a.secret, off)
		if c == e.codeAt(a.secret, 0) || c == e.codeAt(a.secret, 1) || c == e.codeAt(a.secret, -1) {
			continue
		}
		want(t, e.finishMFA(e.mfaToken(a.email), c), 400, badCode)
	}
	want(t, e.finishMFA(e.mfaToken(a.email), "12345"), 400, badCode)
	want(t, e.finishMFA(e.mfaToken(a.email), "abcdef"), 400, badCode)
	// Those refusals used nothing: the current code still works.
	e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")

	// /auth/token/ takes the code itself.
	e.nextStep()
	want(t, e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": e.wrongCode(a.secret)}), 400, badCode)
	e.wantPair(e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": e.codeAt(a.secret, 0)}), "pwd", "otp", "mfa")
}

func TestRecoveryCodesWorkOnceEach(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("rescue@example.com")
	for i, c := range a.recovery {
		e.wantPair(e.finishMFA(e.mfaToken(a.email), c), "pwd", "otp", "mfa")
		e.wantMFA(a.access, true, 9-i)
		want(t, e.finishMFA(e.mfaToken(a.email), c), 400, badCode)
	}
	// Another account's recovery code is no code here.
	b := e.enrol("other@example.com")
	want(t, e.finishMFA(e.mfaToken(a.email), b.recovery[0]), 400, badCode)
	e.wantMFA(b.access, true, 10)
	// The authenticator still works with none left.
	e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
}

func TestMFATokenIsSingleUseShortLivedAndBound(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("tok@example.com")
	b := e.enrol("tok2@example.com")

	tok := e.mfaToken(a.email)
	e.wantPair(e.finishMFA(tok, a.recovery[0]), "pwd", "otp", "mfa")
	want(t, e.finishMFA(tok, a.recovery[1]), 401, invalidToken)
	want(t, e.finishMFA(tok, e.codeAt(a.secret, 0)), 401, invalidToken)

	// Expiry after 5 minutes.
	tok = e.mfaToken(a.email)
	e.clock.Advance(5*time.Minute + time.Second)
	want(t, e.finishMFA(tok, e.codeAt(a.secret, 0)), 401, invalidToken)
	tok = e.mfaToken(a.email)
	e.clock.Advance(4*time.Minute + 50*time.Second)
	e.wantPair(e.finishMFA(tok, e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	e.nextStep()

	// Tampered or made up.
	tok = e.mfaToken(a.email)
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 'A' ^ 'B'
	if flipped[len(flipped)/2] == tok[len(tok)/2] {
		flipped[len(flipped)/2] = 'x'
	}
	for _, bad := range []string{string(flipped), tok[:len(tok)-1], tok + "A", "abc", strings.Repeat("A", 43), tok + "." + tok} {
		want(t, e.finishMFA(bad, e.codeAt(a.secret, 0)), 401, invalidToken)
	}
	// Bound to its sign-in: b's code does not finish a's sign-in.
	want(t, e.finishMFA(tok, e.codeAt(b.secret, 0)), 400, badCode)
	want(t, e.finishMFA(tok, b.recovery[0]), 400, badCode)
	e.wantPair(e.finishMFA(tok, e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	e.nextStep()

	// Five wrong codes kill it; the right one is then refused.
	tok = e.mfaToken(a.email)
	for range 5 {
		want(t, e.finishMFA(tok, e.wrongCode(a.secret)), 400, badCode)
	}
	want(t, e.finishMFA(tok, e.codeAt(a.secret, 0)), 401, invalidToken)
	access := e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	e.nextStep()

	// A password change kills waiting sign-ins.
	tok = e.mfaToken(a.email)
	r := e.authed("POST", "/auth/password/change/", access, obj{"old_password": testPassword, "new_password": "a brand new passphrase"})
	if r.status != 200 {
		e.failf(r, "password change")
	}
	want(t, e.finishMFA(tok, e.codeAt(a.secret, 0)), 401, invalidToken)
}

func TestWrongCodesLockTheEmail(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 10 })
	a := e.enrol("guess@example.com")
	wrongs := 0
	locked := false
	for !locked && wrongs < 20 {
		r := e.post("/auth/token/", obj{"email": a.email, "password": testPassword})
		if r.status == 429 {
			locked = true
			break
		}
		tok := wantMFARequired(t, r)
		for range 5 {
			r := e.finishMFA(tok, e.wrongCode(a.secret))
			if r.status == 429 {
				locked = true
				break
			}
			want(t, r, 400, badCode)
			wrongs++
		}
	}
	if !locked || wrongs > 10 {
		t.Fatalf("after %d wrong codes locked=%v: want the email locked by the 10th", wrongs, locked)
	}
	r := e.post("/auth/token/", obj{"email": a.email, "password": testPassword})
	if r.status != 429 {
		e.failf(r, "the right password after %d wrong codes: want 429", wrongs)
	}
	if r := e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": e.codeAt(a.secret, 0)}); r.status != 429 {
		e.failf(r, "the right password and code while locked: want 429")
	}
	e.clock.Advance(16 * time.Minute)
	e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
}

func TestGoogleSignInWithTOTP(t *testing.T) {
	e := newEnv(t, withGoogle)
	cred := func() string { return e.google.IDToken(marie, nil) }
	r := e.social(cred())
	if r.status != 201 {
		e.failf(r, "first Google sign-in")
	}
	// A Google account has no password: enrolment asks for none.
	a := e.enrolSignedIn(marie.Email, r.str("access"), "")
	e.wantMFA(a.access, true, 10)

	tok := wantMFARequired(t, e.social(cred()))
	e.wantPair(e.finishMFA(tok, e.codeAt(a.secret, 0)), "google", "otp", "mfa")
	e.nextStep()
	want(t, e.post("/auth/social/google-oauth2/", obj{"access_code": cred(), "otp": e.wrongCode(a.secret)}), 400, badCode)
	e.wantPair(e.post("/auth/social/google-oauth2/", obj{"access_code": cred(), "otp": e.codeAt(a.secret, 0)}), "google", "otp", "mfa")
	want(t, e.post("/auth/social/google-oauth2/", obj{"access_code": cred(), "otp": e.codeAt(a.secret, 0)}), 400, badCode)
	e.wantPair(e.post("/auth/social/google-oauth2/", obj{"access_code": cred(), "otp": a.recovery[3]}), "google", "otp", "mfa")
}

func TestTurningTOTPOff(t *testing.T) {
	e := newEnv(t)
	e.register("off@example.com")
	access, _ := e.login("off@example.com", testPassword)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", access, obj{"otp": "123456"}), 400, mfaNotEnabled)
	want(t, e.authed("POST", "/auth/mfa/recovery-codes/", access, obj{"otp": "123456"}), 400, mfaNotEnabled)
	a := e.enrolSignedIn("off@example.com", access, testPassword)

	want(t, e.authed("DELETE", "/auth/mfa/totp/", a.access, obj{"otp": e.wrongCode(a.secret)}), 400, badCode)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", a.access, obj{}), 400, `{"otp":["This field is required."]}`)
	e.wantMFA(a.access, true, 10)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", a.access, obj{"otp": e.codeAt(a.secret, 0)}), 200, `{}`)
	e.wantMFA(a.access, false, 0)
	e.wantPair(e.post("/auth/token/", obj{"email": a.email, "password": testPassword}), "pwd")
	want(t, e.authed("DELETE", "/auth/mfa/totp/", a.access, obj{"otp": e.codeAt(a.secret, 0)}), 400, mfaNotEnabled)

	// On again (a new secret), and off with a recovery code.
	e.nextStep()
	b := e.enrolSignedIn(a.email, a.access, testPassword)
	if b.secret == a.secret {
		t.Fatal("enrolling again reused the secret")
	}
	e.mfaToken(a.email)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", b.access, obj{"otp": a.recovery[0]}), 400, badCode)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", b.access, obj{"otp": b.recovery[0]}), 200, `{}`)
	e.wantPair(e.post("/auth/token/", obj{"email": a.email, "password": testPassword}), "pwd")
}

func TestNewRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("renew@example.com")
	e.wantPair(e.finishMFA(e.mfaToken(a.email), a.recovery[0]), "pwd", "otp", "mfa")
	e.wantMFA(a.access, true, 9)
	want(t, e.authed("POST", "/auth/mfa/recovery-codes/", a.access, obj{"otp": e.wrongCode(a.secret)}), 400, badCode)
	want(t, e.authed("POST", "/auth/mfa/recovery-codes/", a.access, obj{}), 400, `{"otp":["This field is required."]}`)
	fresh := wantRecoveryCodes(t, e.authed("POST", "/auth/mfa/recovery-codes/", a.access, obj{"otp": e.codeAt(a.secret, 0)}))
	for _, c := range fresh {
		if slices.Contains(a.recovery, c) {
			t.Fatalf("new recovery code %q was an old one", c)
		}
	}
	e.wantMFA(a.access, true, 10)
	for _, old := range a.recovery[1:3] {
		want(t, e.finishMFA(e.mfaToken(a.email), old), 400, badCode)
	}
	e.wantPair(e.finishMFA(e.mfaToken(a.email), fresh[9]), "pwd", "otp", "mfa")
	e.wantMFA(a.access, true, 9)
	// A recovery code renews them too (and is used up by it).
	again := wantRecoveryCodes(t, e.authed("POST", "/auth/mfa/recovery-codes/", a.access, obj{"otp": fresh[0]}))
	want(t, e.finishMFA(e.mfaToken(a.email), fresh[1]), 400, badCode)
	e.wantPair(e.finishMFA(e.mfaToken(a.email), again[0]), "pwd", "otp", "mfa")
}

func TestPasswordResetKeepsTOTP(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("reset2fa@example.com")
	code := e.resetCode(a.email)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": a.email, "otp": code, "password": "another long passphrase"}), 200, `{"detail":"Password has been reset"}`)
	r := e.post("/auth/token/", obj{"email": a.email, "password": "another long passphrase"})
	tok := wantMFARequired(t, r)
	access := e.wantPair(e.finishMFA(tok, e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	e.wantMFA(access, true, 10)
}

func TestDeletingTheAccountRemovesTOTP(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("gone@example.com")
	tok := e.mfaToken(a.email)
	var id string
	if err := e.store.DB().QueryRow(`SELECT id FROM users WHERE email = 'gone@example.com'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	rows := func() (n int) {
		for _, table := range []string{"totp", "recovery_codes", "mfa_challenges"} {
			var c int
			if err := e.store.DB().QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE user_id = '` + id + `'`).Scan(&c); err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
	if rows() < 12 {
		t.Fatalf("%d two-factor rows before the deletion, want the authenticator, 10 codes and a sign-in", rows())
	}
	want(t, e.authed("DELETE", "/auth/me/", a.access, obj{"password": testPassword}), 200, `{"detail":"Account deleted"}`)
	if n := rows(); n != 0 {
		t.Fatalf("%d two-factor rows left after the account was deleted", n)
	}
	want(t, e.finishMFA(tok, e.codeAt(a.secret, 0)), 401, invalidToken)
	e.register(a.email)
	e.wantPair(e.post("/auth/token/", obj{"email": a.email, "password": testPassword}), "pwd")
}

// sameCodeAtOnce sends code 20 times at once, each through finish(i), and wants exactly one pair
// and, for the others, only the answers allowed.
func sameCodeAtOnce(t *testing.T, finish func(i int) response, allowed ...string) {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r := finish(i)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
			if r.status == 200 {
				return
			}
			for _, a := range allowed {
				if match(r, r.status, a) == nil && r.status < 500 {
					return
				}
			}
			t.Errorf("got %d %s", r.status, r.raw)
		})
	}
	wg.Wait()
	if statuses[200] != 1 {
		t.Fatalf("the same code 20 times at once: statuses %v, want exactly one 200", statuses)
	}
}

// cheapHash makes password hashing cheap and never shed, for tests of many sign-ins at once.
func cheapHash(e *env) {
	e.hasher = auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)
}

func TestSameCodeAtOnceYieldsOnePair(t *testing.T) {
	e := newEnv(t, cheapHash)
	a := e.enrol("race@example.com")
	t.Run("twenty mfa_tokens", func(t *testing.T) {
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = e.mfaToken(a.email)
		}
		code := e.codeAt(a.secret, 0)
		sameCodeAtOnce(t, func(i int) response { return e.finishMFA(tokens[i], code) }, badCode)
	})
	t.Run("one mfa_token", func(t *testing.T) {
		e.nextStep()
		tok := e.mfaToken(a.email)
		code := e.codeAt(a.secret, 0)
		sameCodeAtOnce(t, func(int) response { return e.finishMFA(tok, code) }, badCode, invalidToken)
	})
	t.Run("one recovery code", func(t *testing.T) {
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = e.mfaToken(a.email)
		}
		sameCodeAtOnce(t, func(i int) response { return e.finishMFA(tokens[i], a.recovery[0]) }, badCode)
	})
	t.Run("at /auth/token/", func(t *testing.T) {
		e.nextStep()
		code := e.codeAt(a.secret, 0)
		sameCodeAtOnce(t, func(int) response {
			return e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": code})
		}, badCode)
	})
}

func TestCodeUsedOnOneInstanceIsRefusedOnAnother(t *testing.T) {
	e1 := newEnv(t, cheapHash)
	a := e1.enrol("nodes@example.com")
	instances := []*env{e1}
	for range 2 {
		other := *e1 // the same database, clock and mail; a server and limiter of its own
		other.start()
		instances = append(instances, &other)
	}
	// A mfa_token made on one instance is finished on another.
	e1.wantPair(instances[1].finishMFA(e1.mfaToken(a.email), e1.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	code := e1.codeAt(a.secret, 0)
	for _, e := range instances {
		want(t, e.finishMFA(e.mfaToken(a.email), code), 400, badCode)
	}
	// A recovery code used on one is used on all.
	instances[2].wantPair(instances[2].finishMFA(instances[2].mfaToken(a.email), a.recovery[0]), "pwd", "otp", "mfa")
	for _, e := range instances[:2] {
		want(t, e.finishMFA(e.mfaToken(a.email), a.recovery[0]), 400, badCode)
	}
	// The same code on the three at once: one pair.
	e1.nextStep()
	tokens := make([]string, 21)
	for i := range tokens {
		tokens[i] = instances[i%3].mfaToken(a.email)
	}
	code = e1.codeAt(a.secret, 0)
	sameCodeAtOnce(t, func(i int) response { return instances[(i+1)%3].finishMFA(tokens[i], code) }, badCode)
}

// mfaTarget is what a sweep of the two-factor endpoints needs: an account with two-factor on and
// one with an unconfirmed enrolment, each signed in.
type mfaTarget struct {
	on, pending string // access tokens
	email       string // of the account with two-factor on
}

// mfaAccounts makes the accounts a sweep of the two-factor endpoints signs in with.
func (e *env) mfaAccounts() mfaTarget {
	e.t.Helper()
	seq := phoneSeq.Add(1)
	on := e.enrol(fmt.Sprintf("sweep-on%d@example.com", seq))
	pending := fmt.Sprintf("sweep-pending%d@example.com", seq)
	e.register(pending)
	access, _ := e.login(pending, testPassword)
	if r := e.authed("POST", "/auth/mfa/totp/", access, obj{"password": testPassword}); r.status != 200 {
		e.failf(r, "enrolment")
	}
	// Fresh access tokens: the enrolment moved the clock.
	onAccess := e.wantPair(e.finishMFA(e.mfaToken(on.email), on.recovery[0]), "pwd", "otp", "mfa")
	return mfaTarget{on: onAccess, pending: access, email: on.email}
}

// sweep puts each value (as JSON text and as a form value) into every field of the two-factor
// endpoints, the rest of the body valid, and fails t on a 5xx or an answer that is not a JSON
// object.
func (m mfaTarget) sweep(t testing.TB, e *env, values []hostile) {
	t.Helper()
	eps := []struct {
		method, path, access string
		body                 map[string]string
	}{
		{"POST", "/auth/token/mfa/", "", map[string]string{"mfa_token": strings.Repeat("A", 43), "otp": "123456"}},
		{"POST", "/auth/token/", "", map[string]string{"email": m.email, "password": testPassword, "otp": "123456"}},
		{"POST", "/auth/mfa/totp/", m.pending, map[string]string{"password": "not the password"}},
		{"POST", "/auth/mfa/totp/confirm/", m.pending, map[string]string{"otp": "123456"}},
		{"DELETE", "/auth/mfa/totp/", m.on, map[string]string{"otp": "123456"}},
		{"POST", "/auth/mfa/recovery-codes/", m.on, map[string]string{"otp": "123456"}},
	}
	for _, ep := range eps {
		var headers []string
		if ep.access != "" {
			headers = []string{"Authorization", "Bearer " + ep.access}
		}
		for f := range ep.body {
			if ep.path == "/auth/token/" && f != "otp" {
				continue // the sweep of endpoints() covers the others
			}
			for _, h := range values {
				for _, req := range [][2]string{
					{"application/json", jsonWith(maps.Clone(ep.body), f, h.json)},
					{"application/x-www-form-urlencoded", formBody(with(maps.Clone(ep.body), f, h.form))},
				} {
					r := e.do(ep.method, ep.path, req[0], req[1], headers...)
					if r.status >= 500 || r.body == nil {
						t.Errorf("%s %s %s=%s (%s): got %d %s", ep.method, ep.path, f, h.name, req[0], r.status, r.raw)
					}
				}
			}
		}
	}
}

func TestHostileTextInTwoFactorFields(t *testing.T) {
	e := newEnv(t, cheapHash)
	m := e.mfaAccounts()
	m.sweep(t, e, hostileValues())
	// None of it turned anything off or used up a code.
	e.wantMFA(m.on, true, 9)
	e.wantMFA(m.pending, false, 0)
}

// With the failed sign-in limit on, the same right password and code sent 20 times at once
// still give exactly one pair: each request is counted once, and a correct password with its
// code is judged under that count (found by the outside review: each request counted twice, 40
// counts against 10, no pair at all).
func TestSameCodeAtOnceWithTheLimitOn(t *testing.T) {
	// Real hashing, so that the twenty arrive while the first are still being judged, as
	// requests sent at once do; with a hash that takes no time, late ones would be replays
	// arriving after the winner, each rightly a failure.
	e := newEnv(t, func(e *env) {
		e.cfg.LoginFailureLimit = 10
		e.hasher = auth.NewHasher(auth.DefaultHashParams, 2, time.Minute)
	})
	a := e.enrol("limited@example.com")
	code := e.codeAt(a.secret, 0)
	throttled := `{"detail":"Request was throttled. Expected available in 900 seconds."}`
	sameCodeAtOnce(t, func(int) response {
		return e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": code})
	}, badCode, throttled)
	// Requests that arrive after the winner are replays of a used code, each rightly a failure,
	// and may lock the email for the rest of its window; once it has passed the owner gets in.
	e.clock.Advance(15 * time.Minute)
	e.nextStep()
	e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
}

// Nine failures leave the owner's tenth attempt, with the right password, judged: the right
// password is uncounted with two-factor on too.
func TestNineFailuresThenTheOwnerWithTOTP(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 10 })
	a := e.enrol("owner@example.com")
	for range 9 {
		want(t, e.post("/auth/token/", obj{"email": a.email, "password": "wrong password"}), 401,
			`{"detail":"No active account found with the given credentials"}`)
	}
	e.wantPair(e.post("/auth/token/", obj{"email": a.email, "password": testPassword, "otp": e.codeAt(a.secret, 0)}), "pwd", "otp", "mfa")
	// The success cleared the count: nine more failures and the password alone still get through.
	for range 9 {
		e.post("/auth/token/", obj{"email": a.email, "password": "wrong password"})
	}
	wantMFARequired(t, e.post("/auth/token/", obj{"email": a.email, "password": testPassword}))
}

// Wrong codes at the enrolment's confirmation count as failed sign-ins, as everywhere a code is
// judged (found by the outside review: a stolen access token could guess them without end).
func TestWrongConfirmationCodesCount(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 10 })
	e.register("confirm@example.com")
	access, _ := e.login("confirm@example.com", testPassword)
	r := e.authed("POST", "/auth/mfa/totp/", access, obj{"password": testPassword})
	secret := r.str("secret")
	locked := false
	for range 12 {
		r := e.authed("POST", "/auth/mfa/totp/confirm/", access, obj{"otp": e.wrongCode(secret)})
		if r.status == 429 {
			locked = true
			break
		}
		want(t, r, 400, badCode)
	}
	if !locked {
		t.Fatal("12 wrong confirmation codes, no 429")
	}
	if r := e.post("/auth/token/", obj{"email": "confirm@example.com", "password": testPassword}); r.status != 429 {
		e.failf(r, "sign-in after 10 wrong confirmation codes: want 429")
	}
}

// A password change made from a two-factor sign-in starts one described as such.
func TestPasswordChangeKeepsTheSecondFactor(t *testing.T) {
	e := newEnv(t)
	a := e.enrol("change2fa@example.com")
	access := e.wantPair(e.finishMFA(e.mfaToken(a.email), e.codeAt(a.secret, 0)), "pwd", "otp", "mfa")
	r := e.authed("POST", "/auth/password/change/", access, obj{"old_password": testPassword, "new_password": "another long secret 42"})
	if r.status != 200 {
		e.failf(r, "password change")
	}
	if got := tokenAMR(t, r.str("access")); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr after the change %q, want pwd otp mfa", got)
	}
}
