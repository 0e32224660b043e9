package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// hostile is a value sent into a field: json is its JSON text (a string literal, which may hold
// bytes that are not UTF-8, or another JSON value), form is what a form post sends instead.
type hostile struct {
	name, json, form string
}

// hostileValues is text that has broken services: bytes PostgreSQL refuses, characters that
// are invisible or reorder what a reader sees, sizes past every limit, and values that are not
// strings at all.
func hostileValues() []hostile {
	var hs []hostile
	str := func(name, s string) { hs = append(hs, hostile{name, jsonString(s), s}) }
	lit := func(name, json, form string) { hs = append(hs, hostile{name, json, form}) }

	str("NUL", "a\x00b")
	str("only NUL", "\x00")
	str("invalid byte", "a\xffb")
	str("overlong NUL", "\xc0\x80")
	str("truncated sequence", "ab\xe2\x82")
	str("encoded surrogate", "\xed\xa0\x80")
	str("beyond U+10FFFF", "\xf4\x90\x80\x80")
	lit("lone high surrogate", `"\ud800"`, "\xed\xa0\x80")
	lit("lone low surrogate", `"x\udc00y"`, "x\xed\xb0\x80y")
	lit("reversed pair", `"\ude00\ud83d"`, "\xed\xb8\x80\xed\xa0\xbd")
	lit("high surrogate then letter", `"\ud83d\u0041"`, "\xed\xa0\xbdA")
	lit("escaped NUL", `"\u0000"`, "\x00")
	lit("escaped pair", `"\ud83d\ude00"`, "😀")
	for c := rune(0); c < 0x20; c++ {
		str(fmt.Sprintf("C0 %U", c), "a"+string(c)+"b")
	}
	str("DEL", "a\x7fb")
	var c1 strings.Builder
	for c := rune(0x80); c <= 0x9f; c++ {
		c1.WriteRune(c)
		if c == 0x80 || c == 0x85 || c == 0x8d || c == 0x9b || c == 0x9f {
			str(fmt.Sprintf("C1 %U", c), "a"+string(c)+"b")
		}
	}
	str("every C1", c1.String())
	for _, c := range []rune{0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069} {
		str(fmt.Sprintf("bidi %U", c), "a"+string(c)+"b")
	}
	str("right-to-left override spoof", "\u202eexe.txt")
	for _, c := range []rune{0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x00ad} {
		str(fmt.Sprintf("invisible %U", c), "a"+string(c)+"b")
	}
	str("line separator", "a\u2028b")
	str("paragraph separator", "a\u2029b")
	str("combining acute", "e\u0301")
	str("leading combining mark", "\u0301a")
	str("stacked combining marks", "Z"+strings.Repeat("\u0336\u0335\u0334", 100))
	str("fullwidth", "ｆｕｌｌ＠ｅｘａｍｐｌｅ．ｃｏｍ")
	str("fullwidth phone", "＋４４ ２０ ７１８３ ８７５０")
	str("emoji", "😀")
	str("ZWJ sequence", "👩\u200d💻")
	str("flag", "🇬🇧")
	str("replacement character", "\ufffd")
	str("noncharacter", "\uffff")
	str("last code point", "\U0010ffff")
	str("private use", "\ue000")
	str("only no-break space", "\u00a0")
	str("only ideographic space", "\u3000")
	str("only tab and line feed", "\t\n")
	str("150 emoji", strings.Repeat("😀", 150))
	str("255 emoji", strings.Repeat("😀", 255))
	str("254 dotted capital I", strings.Repeat("İ", 254))
	str("10 KB", strings.Repeat("a", 10<<10))
	str("10 KB of emoji", strings.Repeat("😀", 10<<8))
	str("70 KB", strings.Repeat("a", 70<<10))
	str("quotes and backslashes", `"'\`+"`; DROP TABLE users; --")
	str("percent escapes", "%00%ff%zz")
	for _, v := range []string{"12", "-0.5", "1e999", "true", "null", "[]", `["a"]`, "{}", `{"a":"b"}`} {
		lit("JSON "+v, v, v)
	}
	return hs
}

// storeEmails are email addresses that sign-in and the reset endpoints look up in the store
// (all but the first pass every check of the HTTP layer; a NUL answered 500 on PostgreSQL),
// and that no account can have.
var storeEmails = []string{"nul\x00@example.com",
	"ctl\x01@example.com", "del\x7f@example.com", "c1\u0085@example.com", "a\u202e@example.com",
	"zw\u200d@example.com", "\ufeffbom@example.com", "ｆｕｌｌ@example.com", "😀@example.com",
	"e\u0301@example.com", "İSTANBUL@example.com", "ls\u2028@example.com", "\ufffd@example.com",
	strings.Repeat("İ", 254),
}

// sweepBody is ep's body with field about to be replaced. Where the rest of the body would let
// a request hash a password (an Argon2id of 19 MiB), another field is made invalid, so that the
// request stops at validation: the sweep stays fast. Registration without a password, the
// reset codes and the tokens reach the store with their hostile field.
func sweepBody(ep endpoint, field string) map[string]string {
	b := ep.body()
	switch {
	case ep.name == "register" && field == "password":
		b["phone_no"] = "not a phone"
	case ep.name == "token":
		b["email"], b["password"] = "", ""
	}
	return b
}

// jsonWith writes b as a JSON object with field (an alias replacing its field) holding the JSON
// text raw.
func jsonWith(b map[string]string, field, raw string) string {
	b = with(b, field, "")
	var parts []string
	for _, k := range sortedKeys(b) {
		v := jsonString(b[k])
		if k == field {
			v = raw
		}
		parts = append(parts, jsonString(k)+":"+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// attempt is one request of a sweep, and what to call it in a failure.
type attempt struct {
	what, path, contentType, body string
}

// accountAttempt is an attempt sent by method, with access (when set) as Authorization: Bearer.
type accountAttempt struct {
	attempt
	method, access string
}

// sweep returns the requests that put v (as JSON text and as a form value) into every field of
// every endpoint, then sign in and check reset codes with each of storeEmails.
func sweep(values []hostile) []attempt {
	const form = "application/x-www-form-urlencoded"
	var as []attempt
	for _, ep := range endpoints() {
		for _, f := range ep.fields {
			for _, h := range values {
				what := ep.name + "/" + f + "/" + h.name
				as = append(as,
					attempt{what + " (JSON)", ep.path, "application/json", jsonWith(sweepBody(ep, f), f, h.json)},
					attempt{what + " (form)", ep.path, form, formBody(with(sweepBody(ep, f), f, h.form))})
			}
		}
	}
	return as
}

// accountEndpoint is an endpoint of the account (issue 15) that reads a body: signed in ones
// are sent with an access token, by method.
type accountEndpoint struct {
	endpoint
	method   string
	signedIn bool
}

// fuzzEmail is the account the fuzz signs in as: registered with a password, unverified, so
// that the verification endpoints meet a live code.
const fuzzEmail = "fuzz@example.com"

// accountEndpoints lists the endpoints of the account that read a body. No body of theirs can
// sign the caller out or delete the account: the password change's other password is wrong or
// missing, and the email change's password is wrong.
func accountEndpoints() []accountEndpoint {
	fresh := func() string { fieldSeq++; return fmt.Sprintf("moved%d@example.com", fieldSeq) }
	return []accountEndpoint{
		{endpoint{"email verify", "/auth/email/verify/", []string{"email", "otp"},
			func() map[string]string { return map[string]string{"email": fuzzEmail, "otp": "123456"} }}, "POST", false},
		{endpoint{"email resend", "/auth/email/verify/resend/", []string{"email"},
			func() map[string]string { return map[string]string{"email": "text@example.com"} }}, "POST", false},
		{endpoint{"me", "/auth/me/", []string{"first_name", "last_name", "address", "phone_no", "email"},
			func() map[string]string { return map[string]string{"first_name": "Ada"} }}, "PATCH", true},
		{endpoint{"password change", "/auth/password/change/", []string{"old_password", "new_password"},
			func() map[string]string {
				return map[string]string{"old_password": "not the password", "new_password": "a new secret phrase"}
			}}, "POST", true},
		{endpoint{"email change", "/auth/email/change/", []string{"email", "password"},
			func() map[string]string { return map[string]string{"email": fresh(), "password": "not the password"} }}, "POST", true},
		{endpoint{"email change confirm", "/auth/email/change/confirm/", []string{"otp"},
			func() map[string]string { return map[string]string{"otp": "123456"} }}, "POST", true},
	}
}

// accountSweep is sweep for the account's endpoints, the signed-in ones with access. A fuzzed
// old_password goes without a new_password, so that no value, however right, changes the
// password and ends the sign-in.
func accountSweep(values []hostile, access string) []accountAttempt {
	const form = "application/x-www-form-urlencoded"
	var as []accountAttempt
	for _, ep := range accountEndpoints() {
		token := ""
		if ep.signedIn {
			token = access
		}
		for _, f := range ep.fields {
			for _, h := range values {
				b := ep.body()
				if ep.name == "password change" && f == "old_password" {
					delete(b, "new_password")
				}
				what := ep.name + "/" + f + "/" + h.name
				as = append(as,
					accountAttempt{attempt{what + " (JSON)", ep.path, "application/json", jsonWith(b, f, h.json)}, ep.method, token},
					accountAttempt{attempt{what + " (form)", ep.path, form, formBody(with(b, f, h.form))}, ep.method, token})
			}
		}
	}
	return as
}

// storeAttempts sign in (which looks the email up and checks a dummy hash) and check reset
// codes with emails that pass the HTTP layer.
func storeAttempts(emails []string) []attempt {
	var as []attempt
	for _, email := range emails {
		as = append(as,
			attempt{"token/" + email, "/auth/token/", "application/json", jsonObject(map[string]string{"email": email, "password": testPassword})},
			attempt{"reset/" + email, "/auth/password/reset/", "application/json", jsonObject(map[string]string{"email": email})},
			attempt{"reset verify/" + email, "/auth/password/reset/verify/", "application/x-www-form-urlencoded",
				formBody(map[string]string{"email": email, "otp": "123456"})},
			attempt{"reset confirm/" + email, "/auth/password/reset/confirm/", "application/json",
				jsonObject(map[string]string{"email": email, "otp": "123456", "password": testPassword})})
	}
	return as
}

// try sends a and fails t on a 5xx; e.do fails it on a body that is not a JSON object.
func (e *env) try(t testing.TB, a attempt) {
	t.Helper()
	e.tryAs(t, accountAttempt{a, "POST", ""})
}

// tryAs is try for an attempt with its own method and access token.
func (e *env) tryAs(t testing.TB, a accountAttempt) {
	t.Helper()
	var headers []string
	if a.access != "" {
		headers = []string{"Authorization", "Bearer " + a.access}
	}
	r := e.do(a.method, a.path, a.contentType, a.body, headers...)
	if r.status >= 500 {
		t.Errorf("%s: got %d %s", a.what, r.status, r.raw)
	}
	if a.access != "" && r.status == 401 {
		t.Errorf("%s: a signed-in request refused at the door: %d %s", a.what, r.status, r.raw)
	}
	if r.body == nil {
		t.Errorf("%s: got %d %q, not a JSON object", a.what, r.status, r.raw)
	}
}

func TestHostileTextInEveryField(t *testing.T) {
	e := newEnv(t, withGoogle)
	start := time.Now()
	as := append(sweep(hostileValues()), storeAttempts(storeEmails)...)
	for _, a := range as {
		e.try(t, a)
	}
	t.Logf("%d requests in %v", len(as), time.Since(start).Round(time.Millisecond))
	// Registration without a password took some of them into the store.
	if n := e.userCount(); n == 0 {
		t.Error("no hostile registration reached the store")
	}
}

// FuzzEndpoints puts the fuzzed text into every field of every endpoint, as a JSON string (its
// bytes as they are), as raw JSON when it is JSON, and as a form value, and signs in with it as
// the email; no answer may be a 5xx. The account's endpoints get it too, the signed-in ones
// with a sign-in of their own for each input.
func FuzzEndpoints(f *testing.F) {
	for _, h := range hostileValues() {
		f.Add(h.form)
		if h.json != jsonString(h.form) {
			f.Add(h.json)
		}
	}
	for _, email := range storeEmails {
		f.Add(email)
	}
	// A cheap hash, as in the concurrency tests: every input signs in, and the fuzzer is after
	// the text's way to the store, not the hash.
	cheap := func(e *env) {
		e.hasher = auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)
	}
	e := newEnv(f, withGoogle, cheap, func(e *env) { e.cfg.EmailVerification = auth.VerificationSend })
	e.register(fuzzEmail)
	mfa := e.mfaAccounts() // the two-factor endpoints are swept signed in
	f.Fuzz(func(t *testing.T, s string) {
		e := *e
		e.t = t // e.do reports to this input's test
		access, _ := e.login(fuzzEmail, testPassword)
		values := []hostile{{"string", jsonString(s), s}}
		if json.Valid([]byte(s)) { // anything else is one parse error, whatever the field
			values = append(values, hostile{"raw JSON", s, s})
		}
		for _, a := range append(sweep(values), storeAttempts([]string{s})[:1]...) {
			e.try(t, a)
		}
		for _, a := range accountSweep(values, access) {
			e.tryAs(t, a)
		}
		mfa.sweep(t, &e, values)
		// The sign-in lived through it all: every signed-in request was judged, none refused at the door.
		want(t, e.verify(access), 200, `{}`)
	})
}
