package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// The answers of a signed-in endpoint to a request that is not signed in.
const (
	notProvided   = `{"detail":"Authentication credentials were not provided."}`
	badAuthHeader = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
	notAnAccess   = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	notFound      = `{"detail":"Not found."}`
)

var (
	isoMicros = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)
	uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sidShape  = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`) // 128 random bits, base64url
)

// call sends a request with the given headers (each "Name: value", repeated names kept) and a
// JSON body when body is not empty. Unlike e.do it accepts any JSON answer (a list of sign-ins).
func (e *env) call(method, path, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var raw strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		raw.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw.String()}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if !json.Valid([]byte(r.raw)) {
		e.t.Errorf("%s %s: body %q is not JSON", method, path, r.raw)
	}
	json.Unmarshal([]byte(r.raw), &r.body)
	return r
}

// as sends a signed-in request with access as the bearer token and body (nil: none) as JSON.
func (e *env) as(access, method, path string, body any, headers ...string) response {
	e.t.Helper()
	s := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		s = string(b)
	}
	return e.call(method, path, s, append([]string{"Authorization: Bearer " + access}, headers...)...)
}

// at is the same env speaking to another instance (another URL on the same database).
func (e *env) at(url string) *env {
	c := *e
	c.url = url
	return &c
}

// me returns the caller's profile, failing the test unless it is a 200.
func (e *env) me(access string) obj {
	e.t.Helper()
	r := e.as(access, "GET", "/auth/me/", nil)
	if r.status != 200 {
		e.t.Fatalf("GET /auth/me/: %d %s", r.status, r.raw)
	}
	return r.body
}

// wantProfile checks an answer is 200 with the profile wanted: id and date_joined are checked
// for shape (and dateJoinedPrefix) and the rest exactly.
func wantProfile(t testing.TB, r response, wantJSON string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("got %d %s, want 200 with a profile", r.status, r.raw)
	}
	if id := r.str("id"); !uuidShape.MatchString(id) {
		t.Errorf("id %q is not a UUID", id)
	}
	if d := r.str("date_joined"); !isoMicros.MatchString(d) || !strings.HasPrefix(d, "2026-03-14T15:") {
		t.Errorf("date_joined %q, want ISO 8601 UTC with microseconds near the test clock", d)
	}
	rest := obj{}
	for k, v := range r.body {
		if k != "id" && k != "date_joined" {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest)
	want(t, response{status: 200, raw: string(b)}, 200, wantJSON)
	if len(r.body) != len(rest)+2 {
		t.Errorf("profile %s lacks id or date_joined", r.raw)
	}
}

// sessionsOf lists the caller's sign-ins.
func (e *env) sessionsOf(access string) []obj {
	e.t.Helper()
	r := e.as(access, "GET", "/auth/sessions/", nil)
	if r.status != 200 {
		e.t.Fatalf("GET /auth/sessions/: %d %s", r.status, r.raw)
	}
	var list []obj
	if err := json.Unmarshal([]byte(r.raw), &list); err != nil {
		e.t.Fatalf("sessions %s: %v", r.raw, err)
	}
	return list
}

// sessionIDs returns the ids of the caller's sign-ins, in the order listed.
func (e *env) sessionIDs(access string) []string {
	e.t.Helper()
	var ids []string
	for _, s := range e.sessionsOf(access) {
		ids = append(ids, s["id"].(string))
	}
	return ids
}

// signedOut checks that access no longer works anywhere it is taken.
func (e *env) signedOut(access string) {
	e.t.Helper()
	want(e.t, e.as(access, "GET", "/auth/me/", nil), 401, notAnAccess)
	want(e.t, e.verify(access), 401, invalidToken)
}

// signedInEndpoints are every endpoint that takes a bearer token.
var signedInEndpoints = []struct{ method, path string }{
	{"GET", "/auth/me/"}, {"PATCH", "/auth/me/"}, {"DELETE", "/auth/me/"},
	{"POST", "/auth/password/change/"}, {"GET", "/auth/sessions/"},
	{"DELETE", "/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA/"}, {"POST", "/auth/logout/all/"},
	{"POST", "/auth/email/change/"}, {"POST", "/auth/email/change/confirm/"},
}

func TestSignedInRequestsRefuseMissingOrBadTokens(t *testing.T) {
	e := newEnv(t)
	e.register("door@example.com")
	expired, _ := e.login("door@example.com", testPassword)
	e.clock.Advance(5*time.Minute + time.Second)
	access, refresh := e.login("door@example.com", testPassword)
	loggedOut, loggedOutRefresh := e.login("door@example.com", testPassword)
	want(t, e.post("/auth/logout/", obj{"refresh_token": loggedOutRefresh}), 200, `{}`)
	tampered := access[:len(access)-4] + "AAAA"
	if tampered == access {
		tampered = access[:len(access)-4] + "BBBB"
	}

	cases := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no header", nil, notProvided},
		{"another scheme", []string{"Authorization: Basic x"}, notProvided},
		{"empty header", []string{"Authorization: "}, notProvided},
		{"Bearer alone", []string{"Authorization: Bearer"}, badAuthHeader},
		{"Bearer with two values", []string{"Authorization: Bearer a b"}, badAuthHeader},
		{"two headers", []string{"Authorization: Bearer " + access, "Authorization: Bearer " + access}, badAuthHeader},
		{"garbage token", []string{"Authorization: Bearer not.a.token"}, notAnAccess},
		{"tampered token", []string{"Authorization: Bearer " + tampered}, notAnAccess},
		{"expired token", []string{"Authorization: Bearer " + expired}, notAnAccess},
		{"refresh token", []string{"Authorization: Bearer " + refresh}, notAnAccess},
		{"logged-out sign-in", []string{"Authorization: Bearer " + loggedOut}, notAnAccess},
	}
	for _, ep := range signedInEndpoints {
		for _, c := range cases {
			t.Run(ep.method+" "+ep.path+" "+c.name, func(t *testing.T) {
				// A body that would be refused (415, 400) is not looked at before the token.
				for _, body := range []struct{ ct, body string }{{"", ""}, {"text/plain", "hello"}, {"application/json", `{"first_name":`}} {
					headers := c.headers
					if body.ct != "" {
						headers = append(slices.Clone(headers), "Content-Type: "+body.ct)
					}
					r := e.call(ep.method, ep.path, "", headers...)
					if body.body != "" {
						r = e.callBody(ep.method, ep.path, body.body, headers...)
					}
					want(t, r, 401, c.want)
					if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="api"` {
						t.Errorf("WWW-Authenticate %q", got)
					}
				}
			})
		}
	}
	// The genuine token is let in.
	want(t, e.as(access, "PATCH", "/auth/me/", "text/plain"), 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`)
	if r := e.call("PATCH", "/auth/me/", "", "Authorization: Bearer "+access, "Content-Type: text/plain"); r.status != 415 {
		t.Fatalf("a signed-in PATCH with a text/plain body: %d %s, want 415", r.status, r.raw)
	}
	e.me(access)
	// The scheme is matched as HTTP matches it, without regard to case.
	if r := e.call("GET", "/auth/me/", "", "Authorization: bearer "+access); r.status != 200 {
		t.Fatalf("lower-case scheme: %d %s", r.status, r.raw)
	}
}

// callBody is call with a body sent under the Content-Type the headers give.
func (e *env) callBody(method, path, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var raw json.RawMessage
	json.NewDecoder(res.Body).Decode(&raw)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func TestProfile(t *testing.T) {
	e := newEnv(t, withGoogle)
	phone := newPhone()
	want(t, e.post("/auth/register/", obj{"first_name": "Grace", "last_name": "Hopper", "email": "Grace@Example.com",
		"phone_no": phone[:3] + " " + phone[3:7] + " " + phone[7:], "password": testPassword}), 201, `{"detail":"User created successfully"}`)
	access, _ := e.login("grace@example.com", testPassword)
	wantProfile(t, e.as(access, "GET", "/auth/me/", nil), `{"email":"Grace@example.com","first_name":"Grace","last_name":"Hopper",
		"address":"","phone_no":"`+phone+`","email_verified":false,"has_password":true,"social":[],"mfa":{"totp":false,"recovery_codes_left":0}}`)
	// The path without its slash answers too.
	if r := e.call("GET", "/auth/me", "", "Authorization: Bearer "+access); r.status != 200 || r.str("email") != "Grace@example.com" {
		t.Fatalf("GET /auth/me: %d %s", r.status, r.raw)
	}

	want(t, e.post("/auth/register/", obj{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
		"phone_no": newPhone(), "address": "12 St James's Square\nLondon", "password": testPassword}), 201, `{"detail":"User created successfully"}`)
	ada, _ := e.login("ada@example.com", testPassword)
	if got := e.me(ada)["address"]; got != "12 St James's Square\nLondon" {
		t.Fatalf("address %q", got)
	}
	if e.me(ada)["id"] == e.me(access)["id"] {
		t.Fatal("two accounts with one id")
	}

	// A Google account: no phone, no password, the backend linked, the email as Google proved it.
	r := e.social(e.google.IDToken(marie, nil))
	if r.status != 201 {
		t.Fatalf("Google sign-in: %d %s", r.status, r.raw)
	}
	wantProfile(t, e.as(r.str("access"), "GET", "/auth/me/", nil), `{"email":"marie@gmail.com","first_name":"Marie","last_name":"Curie",
		"address":"","phone_no":null,"email_verified":true,"has_password":false,"social":["google-oauth2"],"mfa":{"totp":false,"recovery_codes_left":0}}`)
}

func TestProfileUpdate(t *testing.T) {
	e := newEnv(t)
	e.register("edit@example.com")
	other := e.register("other@example.com")
	access, _ := e.login("edit@example.com", testPassword)
	before := e.as(access, "GET", "/auth/me/", nil).raw

	taken := other["phone_no"].(string)
	long151, long256 := strings.Repeat("x", 151), strings.Repeat("y", 256)
	for _, tt := range []struct {
		name string
		body string
		want string
	}{
		{"empty object", `{}`, `{"non_field_errors":["Send at least one of first_name, last_name, address, phone_no."]}`},
		{"only unknown fields", `{"nickname":"x","is_staff":true}`, `{"non_field_errors":["Send at least one of first_name, last_name, address, phone_no."]}`},
		{"blank", `{"first_name":""}`, `{"first_name":["This field may not be blank."]}`},
		{"spaces", `{"last_name":"   "}`, `{"last_name":["This field may not be blank."]}`},
		{"null name", `{"first_name":null}`, `{"first_name":["This field may not be null."]}`},
		{"null phone", `{"phone_no":null}`, `{"phone_no":["This field may not be null."]}`},
		{"blank phone", `{"phone_no":""}`, `{"phone_no":["This field may not be blank."]}`},
		{"not a string", `{"first_name":7,"last_name":["x"],"address":{"a":1},"phone_no":true}`,
			`{"first_name":["Not a valid string."],"last_name":["Not a valid string."],"address":["Not a valid string."],"phone_no":["Not a valid string."]}`},
		{"too long", `{"first_name":"` + long151 + `","last_name":"` + long151 + `","address":"` + long256 + `"}`,
			`{"first_name":["Ensure this field has no more than 150 characters."],"last_name":["Ensure this field has no more than 150 characters."],"address":["Ensure this field has no more than 255 characters."]}`},
		{"control characters", `{"first_name":"Gr\nace","last_name":"Hop\u202eper"}`,
			`{"first_name":["This field may not contain control characters."],"last_name":["This field may not contain control characters."]}`},
		{"tab in a name", `{"first_name":"Gr\tace"}`, `{"first_name":["This field may not contain control characters."]}`},
		{"null character", `{"address":"a\u0000b"}`, `{"address":["Null characters are not allowed."]}`},
		{"invalid phone", `{"phone_no":"12345"}`, `{"phone_no":["Enter a valid phone number."]}`},
		{"national phone without a region", `{"phone_no":"020 7183 8750"}`, `{"phone_no":["Enter a valid phone number."]}`},
		{"taken phone", `{"phone_no":"` + taken + `"}`, `{"phone_no":["user with this phone no already exists."]}`},
		{"taken phone in another format", `{"phone_no":"` + taken[:3] + ` ` + taken[3:] + `"}`, `{"phone_no":["user with this phone no already exists."]}`},
		{"email", `{"email":"new@example.com"}`, `{"email":["Use /auth/email/change/ to change the email address."]}`},
		{"email beside a good field", `{"email":"new@example.com","first_name":"Amazing"}`, `{"email":["Use /auth/email/change/ to change the email address."]}`},
		{"email null", `{"email":null}`, `{"email":["Use /auth/email/change/ to change the email address."]}`},
		{"everything at once", `{"first_name":"","last_name":null,"phone_no":"bad","email":"x","address":"` + long256 + `"}`,
			`{"first_name":["This field may not be blank."],"last_name":["This field may not be null."],"address":["Ensure this field has no more than 255 characters."],"phone_no":["Enter a valid phone number."],"email":["Use /auth/email/change/ to change the email address."]}`},
		{"good fields beside a bad one", `{"first_name":"Amazing","phone_no":"` + taken + `"}`, `{"phone_no":["user with this phone no already exists."]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want(t, e.callBody("PATCH", "/auth/me/", tt.body, "Authorization: Bearer "+access, "Content-Type: application/json"), 400, tt.want)
			if got := e.as(access, "GET", "/auth/me/", nil).raw; got != before {
				t.Fatalf("the profile changed:\n%s\nwas\n%s", got, before)
			}
		})
	}

	// The own current phone, in any format, is no conflict; unknown fields beside known ones are ignored.
	own := e.me(access)["phone_no"].(string)
	r := e.as(access, "PATCH", "/auth/me/", obj{"phone_no": own[:3] + " " + own[3:], "first_name": "Amazing", "is_staff": true, "id": "x"})
	wantProfile(t, r, `{"email":"edit@example.com","first_name":"Amazing","last_name":"Hopper","address":"","phone_no":"`+own+`",
		"email_verified":false,"has_password":true,"social":[],"mfa":{"totp":false,"recovery_codes_left":0}}`)
	if r.str("id") != e.me(access)["id"] {
		t.Fatal("the id changed")
	}
	// Each field changes alone; the answer is the whole profile, as GET then shows it.
	phone := newPhone()
	r = e.as(access, "PATCH", "/auth/me", obj{"last_name": "Murray", "address": "1 Main St", "phone_no": phone})
	wantProfile(t, r, `{"email":"edit@example.com","first_name":"Amazing","last_name":"Murray","address":"1 Main St","phone_no":"`+phone+`",
		"email_verified":false,"has_password":true,"social":[],"mfa":{"totp":false,"recovery_codes_left":0}}`)
	if got := e.as(access, "GET", "/auth/me/", nil).raw; got != r.raw {
		t.Fatalf("GET after PATCH:\n%s\nPATCH answered\n%s", got, r.raw)
	}
	// The old number is free again; a blank or null address clears it.
	want(t, e.post("/auth/register/", obj{"first_name": "N", "last_name": "O", "email": "reuse@example.com", "phone_no": own}), 201, `{"detail":"User created successfully"}`)
	for _, body := range []obj{{"address": ""}, {"address": nil}} {
		e.as(access, "PATCH", "/auth/me/", obj{"address": "somewhere"})
		if got := e.as(access, "PATCH", "/auth/me/", body).body["address"]; got != "" {
			t.Fatalf("PATCH %v: address %q, want cleared", body, got)
		}
	}
	// A form body works as JSON does.
	r = e.callBody("PATCH", "/auth/me/", "first_name=Formal", "Authorization: Bearer "+access, "Content-Type: application/x-www-form-urlencoded")
	if r.status != 200 || r.str("first_name") != "Formal" {
		t.Fatalf("form PATCH: %d %s", r.status, r.raw)
	}
	// The new names are what password similarity is judged against.
	want(t, e.as(access, "POST", "/auth/password/change/", obj{"old_password": testPassword, "new_password": "formal123x"}), 400,
		`{"new_password":["The password is too similar to the first name."]}`)

	// PUT is not served.
	r = e.as(access, "PUT", "/auth/me/", obj{"first_name": "Put"})
	want(t, r, 405, `{"detail":"Method \"PUT\" not allowed."}`)
	if got := r.header.Get("Allow"); got != "GET, HEAD, PATCH, DELETE, OPTIONS" {
		t.Errorf("Allow %q", got)
	}
	if e.me(access)["first_name"] != "Formal" {
		t.Fatal("PUT changed the profile")
	}
}

// Two accounts asking for the same free number at once: one gets it, the other the field error
// registration gives, never a 500.
func TestProfilePhoneRace(t *testing.T) {
	e := newEnv(t)
	e.register("racer1@example.com")
	e.register("racer2@example.com")
	a, _ := e.login("racer1@example.com", testPassword)
	b, _ := e.login("racer2@example.com", testPassword)
	for round := range 10 {
		phone := newPhone()
		var wg sync.WaitGroup
		results := make([]response, 2)
		for i, access := range []string{a, b} {
			wg.Go(func() { results[i] = e.as(access, "PATCH", "/auth/me/", obj{"phone_no": phone}) })
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			switch {
			case r.status == 200 && r.str("phone_no") == phone:
				won++
			case match(r, 400, `{"phone_no":["user with this phone no already exists."]}`) == nil:
			default:
				t.Fatalf("round %d: %d %s", round, r.status, r.raw)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d accounts got the number, want exactly 1", round, won)
		}
		holders := 0
		for _, access := range []string{a, b} {
			if e.me(access)["phone_no"] == phone {
				holders++
			}
		}
		if holders != 1 {
			t.Fatalf("round %d: %d accounts hold the number", round, holders)
		}
	}
}

func TestDeleteAccount(t *testing.T) {
	e := newEnv(t, withMailByHand)
	reg := e.register("gone@example.com")
	access, refresh := e.login("gone@example.com", testPassword)
	other, otherRefresh := e.login("gone@example.com", testPassword)

	for _, tt := range []struct {
		body any
		want string
	}{
		{nil, `{"password":["This field is required."]}`},
		{obj{}, `{"password":["This field is required."]}`},
		{obj{"password": ""}, `{"password":["This field may not be blank."]}`},
		{obj{"password": nil}, `{"password":["This field may not be null."]}`},
		{obj{"password": 7}, `{"password":["Not a valid string."]}`},
		{obj{"password": "wrong password"}, `{"password":["Incorrect password."]}`},
		{obj{"password": strings.ToUpper(testPassword)}, `{"password":["Incorrect password."]}`},
	} {
		want(t, e.as(access, "DELETE", "/auth/me/", tt.body), 400, tt.want)
	}
	e.me(access) // nothing was deleted
	want(t, e.verify(other), 200, `{}`)

	// A reset code requested before is waiting in the outbox; it goes with the account.
	want(t, e.post("/auth/password/reset/", obj{"email": "gone@example.com"}), 200, `{"detail":"An OTP email was sent to the user"}`)

	want(t, e.as(access, "DELETE", "/auth/me/", obj{"password": testPassword}), 200, `{"detail":"Account deleted"}`)
	if n := e.sender.Drain(context.Background()); n != 0 || len(e.smtp.Received()) != 0 {
		t.Fatalf("%d emails sent for a deleted account", n)
	}
	for _, tok := range []string{access, other} {
		e.signedOut(tok)
	}
	for _, tok := range []string{refresh, otherRefresh} {
		want(t, e.refresh(tok), 401, invalidToken)
	}
	want(t, e.post("/auth/token/", obj{"email": "gone@example.com", "password": testPassword}), 401, noAccount)
	want(t, e.post("/auth/password/reset/", obj{"email": "gone@example.com"}), 404, notFound)
	if n := e.sender.Drain(context.Background()); n != 0 {
		t.Fatalf("%d emails sent after the deletion", n)
	}
	// The email and the phone are free at once.
	want(t, e.post("/auth/register/", obj{"first_name": "New", "last_name": "Owner", "email": "Gone@example.com",
		"phone_no": reg["phone_no"], "password": "another long secret"}), 201, `{"detail":"User created successfully"}`)
	fresh, _ := e.login("gone@example.com", "another long secret")
	if e.me(fresh)["first_name"] != "New" {
		t.Fatal("the new account is not the new owner's")
	}
	e.signedOut(access) // the old token does not open the new account
}

func TestDeleteAccountWrongPasswordsCountAsFailedSignIns(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 10 })
	e.register("guess@example.com")
	access, _ := e.login("guess@example.com", testPassword)
	for range 5 {
		want(t, e.as(access, "DELETE", "/auth/me/", obj{"password": "wrong password"}), 400, `{"password":["Incorrect password."]}`)
	}
	for range 5 {
		want(t, e.as(access, "POST", "/auth/password/change/", obj{"old_password": "wrong password", "new_password": "a fine new secret"}), 400,
			`{"old_password":["Your old password was entered incorrectly. Please enter it again."]}`)
	}
	r := e.post("/auth/token/", obj{"email": "guess@example.com", "password": testPassword})
	want(t, r, 429, `{"detail":"Request was throttled. Expected available in 900 seconds."}`)
	// Past the limit the signed-in endpoints judge no password either.
	if r := e.as(access, "DELETE", "/auth/me/", obj{"password": testPassword}); r.status != 429 {
		t.Fatalf("DELETE past the limit: %d %s, want 429", r.status, r.raw)
	}
	e.me(access)
}

func TestDeleteAccountWithoutPassword(t *testing.T) {
	e := newEnv(t, withGoogle)
	r := e.social(e.google.IDToken(marie, nil))
	if r.status != 201 {
		t.Fatalf("Google sign-in: %d %s", r.status, r.raw)
	}
	want(t, e.as(r.str("access"), "DELETE", "/auth/me/", nil), 200, `{"detail":"Account deleted"}`)
	e.signedOut(r.str("access"))
	want(t, e.refresh(r.str("refresh")), 401, invalidToken)
	// The Google identity went with it: signing in again makes a new account.
	again := e.social(e.google.IDToken(marie, nil))
	if again.status != 201 {
		t.Fatalf("Google sign-in after deletion: %d %s, want 201", again.status, again.raw)
	}
	if e.userCount() != 1 {
		t.Fatalf("%d users", e.userCount())
	}
}

const wrongOld = `{"old_password":["Your old password was entered incorrectly. Please enter it again."]}`

func TestPasswordChangeRules(t *testing.T) {
	e := newEnv(t)
	want(t, e.post("/auth/register/", obj{"first_name": "Alexandria", "last_name": "Montgomery", "email": "marvellous.penguin@example.com",
		"phone_no": newPhone(), "password": testPassword}), 201, `{"detail":"User created successfully"}`)
	access, _ := e.login("marvellous.penguin@example.com", testPassword)
	for _, tt := range []struct {
		name string
		body any
		want string
	}{
		{"nothing", nil, `{"old_password":["This field is required."],"new_password":["This field is required."]}`},
		{"no old password", obj{"new_password": "a fine new secret"}, `{"old_password":["This field is required."]}`},
		{"wrong old password", obj{"old_password": "wrong", "new_password": "a fine new secret"}, wrongOld},
		{"too short", obj{"old_password": testPassword, "new_password": "x7!k"}, `{"new_password":["This password is too short. It must contain at least 8 characters."]}`},
		{"common", obj{"old_password": testPassword, "new_password": "password123"}, `{"new_password":["This password is too common."]}`},
		{"numeric", obj{"old_password": testPassword, "new_password": "12345678901234"}, `{"new_password":["This password is entirely numeric."]}`},
		{"like the first name", obj{"old_password": testPassword, "new_password": "alexandria1"}, `{"new_password":["The password is too similar to the first name."]}`},
		{"like the last name", obj{"old_password": testPassword, "new_password": "montgomery7x"}, `{"new_password":["The password is too similar to the last name."]}`},
		{"like the email", obj{"old_password": testPassword, "new_password": "penguin123"}, `{"new_password":["The password is too similar to the email."]}`},
		{"too long", obj{"old_password": testPassword, "new_password": strings.Repeat("p", 1025)}, `{"new_password":["Ensure this field has no more than 1024 characters."]}`},
		{"null and not a string", obj{"old_password": nil, "new_password": 5}, `{"old_password":["This field may not be null."],"new_password":["Not a valid string."]}`},
		{"all together", obj{"old_password": "wrong", "new_password": "1234"},
			`{"old_password":["Your old password was entered incorrectly. Please enter it again."],"new_password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want(t, e.as(access, "POST", "/auth/password/change/", tt.body), 400, tt.want)
			want(t, e.verify(access), 200, `{}`) // nothing changed, no sign-in ended
		})
	}
	e.login("marvellous.penguin@example.com", testPassword)
}

func TestPasswordChange(t *testing.T) {
	e := newEnv(t)
	e.register("change@example.com")
	access, refresh := e.login("change@example.com", testPassword)
	other, otherRefresh := e.login("change@example.com", testPassword)
	r := e.as(access, "POST", "/auth/password/change/", obj{"old_password": testPassword, "new_password": "a fine new secret"})
	if r.status != 200 || len(r.body) != 3 || r.str("detail") != "Password has been changed" || r.str("access") == "" || r.str("refresh") == "" {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	for _, tok := range []string{access, other} {
		e.signedOut(tok)
	}
	for _, tok := range []string{refresh, otherRefresh} {
		want(t, e.refresh(tok), 401, invalidToken)
	}
	e.me(r.str("access"))
	list := e.sessionsOf(r.str("access"))
	if len(list) != 1 || list[0]["current"] != true || !slices.Equal(amrOf(list[0]), []string{"pwd"}) {
		t.Fatalf("sessions after the change: %v", list)
	}
	if next := e.refresh(r.str("refresh")); next.status != 200 {
		t.Fatalf("refresh of the new pair: %d %s", next.status, next.raw)
	}
	want(t, e.post("/auth/token/", obj{"email": "change@example.com", "password": testPassword}), 401, noAccount)
	e.login("change@example.com", "a fine new secret")
}

func amrOf(s obj) []string {
	var out []string
	list, _ := s["amr"].([]any)
	for _, v := range list {
		out = append(out, v.(string))
	}
	return out
}

func TestPasswordChangeSetsAFirstPassword(t *testing.T) {
	e := newEnv(t, withGoogle)
	r := e.social(e.google.IDToken(marie, nil))
	if r.status != 201 {
		t.Fatalf("Google sign-in: %d %s", r.status, r.raw)
	}
	// The rules apply to a first password too, against the Google names and email.
	want(t, e.as(r.str("access"), "POST", "/auth/password/change/", obj{"new_password": "marie#qz9"}), 400,
		`{"new_password":["The password is too similar to the first name."]}`)
	c := e.as(r.str("access"), "POST", "/auth/password/change/", obj{"new_password": "radium and polonium"})
	if c.status != 200 || c.str("detail") != "Password has been changed" {
		t.Fatalf("first password: %d %s", c.status, c.raw)
	}
	e.signedOut(r.str("access"))
	p := e.me(c.str("access"))
	if p["has_password"] != true {
		t.Fatalf("has_password after setting one: %v", p["has_password"])
	}
	e.login("marie@gmail.com", "radium and polonium")
	// Now it has one, the next change needs it.
	want(t, e.as(c.str("access"), "POST", "/auth/password/change/", obj{"new_password": "another fine secret"}), 400, `{"old_password":["This field is required."]}`)
}

// Ten changes at once with the same old password: one wins, the others find the old password
// no longer right, or their sign-in already revoked by the winner. None is a 500, and the
// winner's password is the one that works.
func TestParallelPasswordChanges(t *testing.T) {
	e := newEnv(t, func(e *env) { e.hasher = auth.NewHasher(auth.DefaultHashParams, 4, time.Minute) })
	e.register("parallel@example.com")
	access, _ := e.login("parallel@example.com", testPassword)
	results := make([]response, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i] = e.as(access, "POST", "/auth/password/change/", obj{"old_password": testPassword, "new_password": "new secret number " + string(rune('a'+i))})
		})
	}
	wg.Wait()
	winner := -1
	for i, r := range results {
		switch {
		case r.status == 200 && r.str("access") != "":
			if winner >= 0 {
				t.Fatalf("changes %d and %d both succeeded", winner, i)
			}
			winner = i
		case match(r, 400, wrongOld) == nil:
			// lost the race: the old password was no longer it
		case r.status == 401 && r.str("code") == "token_not_valid":
			// arrived after the winner revoked every sign-in, the caller's included
		default:
			t.Fatalf("change %d: %d %s", i, r.status, r.raw)
		}
	}
	if winner < 0 {
		t.Fatal("no change succeeded")
	}
	e.login("parallel@example.com", "new secret number "+string(rune('a'+winner)))
	want(t, e.post("/auth/token/", obj{"email": "parallel@example.com", "password": testPassword}), 401, noAccount)
	if len(e.sessionsOf(results[winner].str("access"))) != 2 { // the winner's and the login above
		t.Fatalf("sessions: %v", e.sessionsOf(results[winner].str("access")))
	}
}

func TestSessionsList(t *testing.T) {
	e := newEnv(t, withGoogle)
	e.register("tabs@example.com")
	r := e.call("POST", "/auth/token/", `{"email":"tabs@example.com","password":"`+testPassword+`"}`, "User-Agent: Browser A/1.0")
	a, aRefresh := r.str("access"), r.str("refresh")
	e.clock.Advance(time.Minute)
	long := strings.Repeat("L", 2000)
	r = e.call("POST", "/auth/token/", `{"email":"tabs@example.com","password":"`+testPassword+`"}`, "User-Agent: "+long)
	b := r.str("access")

	list := e.sessionsOf(a)
	if len(list) != 2 {
		t.Fatalf("%d sessions, want 2: %v", len(list), list)
	}
	for i, s := range list {
		keys := slices.Sorted(maps.Keys(s))
		if !slices.Equal(keys, []string{"amr", "created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"}) {
			t.Fatalf("session %d has keys %v", i, keys)
		}
		if !sidShape.MatchString(s["id"].(string)) || !isoMicros.MatchString(s["created_at"].(string)) || !isoMicros.MatchString(s["expires_at"].(string)) {
			t.Fatalf("session %d: %v", i, s)
		}
		if s["last_used_at"] != nil || s["ip"] != "127.0.0.1" || !slices.Equal(amrOf(s), []string{"pwd"}) {
			t.Fatalf("session %d: %v", i, s)
		}
		created, _ := time.Parse(time.RFC3339Nano, s["created_at"].(string))
		expires, _ := time.Parse(time.RFC3339Nano, s["expires_at"].(string))
		if d := expires.Sub(created); d < 24*time.Hour-time.Second || d > 24*time.Hour+time.Second {
			t.Fatalf("session %d expires %v after it started, want 24 h", i, d)
		}
	}
	// Newest first; the user agent as sent, a long one cut at 512 characters.
	if list[0]["user_agent"] != strings.Repeat("L", 512) || list[0]["current"] != false {
		t.Fatalf("newest: user_agent of %d characters, current %v", len(list[0]["user_agent"].(string)), list[0]["current"])
	}
	if list[1]["user_agent"] != "Browser A/1.0" || list[1]["current"] != true {
		t.Fatalf("oldest: %v", list[1])
	}
	if !(list[0]["created_at"].(string) > list[1]["created_at"].(string)) {
		t.Fatalf("not newest first: %v then %v", list[0]["created_at"], list[1]["created_at"])
	}
	if got := e.sessionsOf(b); got[0]["current"] != true || got[1]["current"] != false {
		t.Fatalf("from the other sign-in: %v", got)
	}

	// A refresh sets last_used_at; two tabs holding the successor from the reuse window are both current.
	e.clock.Advance(time.Minute)
	refreshedAt := e.clock.Now()
	tab1 := e.refresh(aRefresh)
	tab2 := e.refresh(aRefresh)
	if tab1.status != 200 || tab2.status != 200 || tab1.str("refresh") != tab2.str("refresh") {
		t.Fatalf("two tabs refreshing: %d %s / %d %s", tab1.status, tab1.raw, tab2.status, tab2.raw)
	}
	for _, tab := range []response{tab1, tab2} {
		list := e.sessionsOf(tab.str("access"))
		if len(list) != 2 || list[1]["current"] != true || list[0]["current"] != false {
			t.Fatalf("a tab's list: %v", list)
		}
		used, ok := list[1]["last_used_at"].(string)
		at, err := time.Parse(time.RFC3339Nano, used)
		if !ok || err != nil || !isoMicros.MatchString(used) || at.Before(refreshedAt) || at.After(refreshedAt.Add(time.Second)) {
			t.Fatalf("last_used_at %v after a refresh at %v", list[1]["last_used_at"], refreshedAt)
		}
		if list[0]["last_used_at"] != nil {
			t.Fatalf("the other sign-in's last_used_at %v", list[0]["last_used_at"])
		}
	}

	// Google sign-ins are amr google; other accounts' sign-ins are not listed.
	g := e.social(e.google.IDToken(marie, nil))
	gl := e.sessionsOf(g.str("access"))
	if len(gl) != 1 || !slices.Equal(amrOf(gl[0]), []string{"google"}) || gl[0]["current"] != true {
		t.Fatalf("Google account's sessions: %v", gl)
	}
	if len(e.sessionsOf(a)) != 2 {
		t.Fatal("another account's sign-in is listed")
	}
	// Expired sign-ins are not listed.
	e.clock.Advance(24*time.Hour + time.Minute)
	fresh, _ := e.login("tabs@example.com", testPassword)
	if ids := e.sessionIDs(fresh); len(ids) != 1 {
		t.Fatalf("after the others expired: %v", ids)
	}
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	e.register("end@example.com")
	e.register("stranger@example.com")
	a, aRefresh := e.login("end@example.com", testPassword)
	b, bRefresh := e.login("end@example.com", testPassword)
	c, _ := e.login("end@example.com", testPassword)
	s, sRefresh := e.login("stranger@example.com", testPassword)
	ids := e.sessionIDs(a) // c, b, a
	strangerID := e.sessionIDs(s)[0]
	if len(ids) != 3 {
		t.Fatalf("sessions %v", ids)
	}
	bID := ids[1]

	want(t, e.as(a, "DELETE", "/auth/sessions/"+bID+"/", nil), 200, `{}`)
	e.signedOut(b)
	want(t, e.refresh(bRefresh), 401, invalidToken)
	e.me(a)
	e.me(c)
	if r := e.refresh(aRefresh); r.status != 200 {
		t.Fatalf("refresh of a sign-in left alone: %d %s", r.status, r.raw)
	}
	if got := e.sessionIDs(a); !slices.Equal(got, []string{ids[0], ids[2]}) {
		t.Fatalf("after ending one: %v, want %v", got, []string{ids[0], ids[2]})
	}

	for _, path := range []string{
		"/auth/sessions/" + strangerID + "/",                  // someone else's
		"/auth/sessions/" + strangerID,                        // without the slash
		"/auth/sessions/" + flipCase(strangerID) + "/",        // another spelling of it
		"/auth/sessions/" + bID + "/",                         // already ended
		"/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA/",              // unknown
		"/auth/sessions/x/",                                   // malformed
		"/auth/sessions/" + strings.Repeat("9", 500) + "/",    // very long
		"/auth/sessions/%ff%fe/",                              // not UTF-8
		"/auth/sessions/%00/",                                 // NUL
		"/auth/sessions/" + ids[0] + "%20/",                   // trailing junk
		"/auth/sessions/" + ids[0] + "'%20OR%20'1'='1/",       // SQL-shaped
		"/auth/sessions/%2e%2e/",                              // ".." escaped
		"/auth/sessions/..%2f/",                               // ".." and an escaped slash
		"/auth/sessions/" + ids[0] + "%2F" + strangerID + "/", // an escaped slash
		"/auth/sessions/" + strangerID + "/?id=" + ids[0],     // a query naming another id
		"/auth/sessions/" + strangerID[:21] + "/",             // one short
		"/auth/sessions/" + strangerID + "A/",                 // one long
		"/auth/sessions/" + strangerID[:21] + "=/",            // not base64url
		"/auth/sessions/" + strangerID[:21] + "+/",            // standard base64
	} {
		r := e.as(a, "DELETE", path, nil)
		want(t, r, 404, notFound)
	}
	e.me(s)
	if r := e.refresh(sRefresh); r.status != 200 {
		t.Fatalf("the stranger's sign-in: %d %s", r.status, r.raw)
	}
	if got := e.sessionIDs(a); !slices.Equal(got, []string{ids[0], ids[2]}) {
		t.Fatalf("a 404 changed the sign-ins: %v", got)
	}
	// ".." as a path segment is not a way to another route.
	r := e.as(a, "DELETE", "/auth/sessions/../", nil)
	if r.status == 200 || r.status >= 500 {
		t.Fatalf("DELETE /auth/sessions/../: %d %s", r.status, r.raw)
	}
	if got := e.sessionIDs(a); len(got) != 2 {
		t.Fatalf("after ..: %v", got)
	}
	// Ending its own sign-in signs the caller out.
	want(t, e.as(c, "DELETE", "/auth/sessions/"+ids[0]+"/", nil), 200, `{}`)
	e.signedOut(c)
	r = e.as(a, "GET", "/auth/sessions/x/", nil)
	want(t, r, 405, `{"detail":"Method \"GET\" not allowed."}`)
	if got := r.header.Get("Allow"); got != "DELETE, OPTIONS" {
		t.Errorf("Allow %q", got)
	}
}

// flipCase swaps the case of every letter of s.
func flipCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

func TestLogoutAll(t *testing.T) {
	e := newEnv(t)
	e.register("all@example.com")
	e.register("bystander@example.com")
	a, aRefresh := e.login("all@example.com", testPassword)
	b, bRefresh := e.login("all@example.com", testPassword)
	s, _ := e.login("bystander@example.com", testPassword)
	want(t, e.as(a, "POST", "/auth/logout/all/", nil), 200, `{}`)
	for _, tok := range []string{a, b} {
		e.signedOut(tok)
	}
	for _, tok := range []string{aRefresh, bRefresh} {
		want(t, e.refresh(tok), 401, invalidToken)
	}
	e.me(s)
	fresh, _ := e.login("all@example.com", testPassword)
	if ids := e.sessionIDs(fresh); len(ids) != 1 {
		t.Fatalf("after logout everywhere and a new sign-in: %v", ids)
	}
	want(t, e.as(a, "POST", "/auth/logout/all", nil), 401, notAnAccess)
}

// Three instances on one database: what one does to an account or a sign-in, the others see at
// once.
func TestAccountAcrossInstances(t *testing.T) {
	e := newEnv(t)
	urls := []string{e.url}
	for range 2 {
		e.start()
		urls = append(urls, e.url)
	}
	nodes := []*env{e.at(urls[0]), e.at(urls[1]), e.at(urls[2])}
	ctx := context.Background()

	nodes[0].register("deleted@example.com")
	nodes[0].register("disabled@example.com")
	nodes[0].register("ended@example.com")
	del, _ := nodes[0].login("deleted@example.com", testPassword)
	dis, _ := nodes[1].login("disabled@example.com", testPassword)
	end1, _ := nodes[2].login("ended@example.com", testPassword)
	end2, _ := nodes[2].login("ended@example.com", testPassword)
	for _, n := range nodes {
		for _, tok := range []string{del, dis, end1, end2} {
			n.me(tok) // each instance has seen each token live
			n.sessionsOf(tok)
		}
	}

	want(t, nodes[0].as(del, "DELETE", "/auth/me/", obj{"password": testPassword}), 200, `{"detail":"Account deleted"}`)
	for _, n := range nodes {
		n.signedOut(del)
	}

	id := nodes[1].me(dis)["id"].(string)
	if err := e.store.SetUserActive(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.signedOut(dis)
		want(t, n.as(dis, "GET", "/auth/sessions/", nil), 401, notAnAccess)
	}
	if err := e.store.SetUserActive(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.me(dis)
	}

	ids := nodes[0].sessionIDs(end1) // end2's, end1's
	want(t, nodes[1].as(end1, "DELETE", "/auth/sessions/"+ids[0]+"/", nil), 200, `{}`)
	for _, n := range nodes {
		n.signedOut(end2)
		n.me(end1)
		want(t, n.as(end1, "DELETE", "/auth/sessions/"+ids[0]+"/", nil), 404, notFound)
	}
	want(t, nodes[2].as(end1, "POST", "/auth/logout/all/", nil), 200, `{}`)
	for _, n := range nodes {
		n.signedOut(end1)
	}
}

// The new paths follow the conventions: both slash forms, 405 with Allow, OPTIONS.
func TestAccountRoutesFollowTheConventions(t *testing.T) {
	e := newEnv(t)
	for _, ep := range signedInEndpoints {
		for _, path := range []string{ep.path, strings.TrimSuffix(ep.path, "/")} {
			r := e.call(ep.method, path, "")
			want(t, r, 401, notProvided)
		}
	}
	for _, tt := range []struct{ method, path, allow string }{
		{"PUT", "/auth/me/", "GET, HEAD, PATCH, DELETE, OPTIONS"},
		{"POST", "/auth/me", "GET, HEAD, PATCH, DELETE, OPTIONS"},
		{"GET", "/auth/password/change/", "POST, OPTIONS"},
		{"DELETE", "/auth/sessions/", "GET, HEAD, OPTIONS"},
		{"POST", "/auth/sessions/x/", "DELETE, OPTIONS"},
		{"GET", "/auth/logout/all/", "POST, OPTIONS"},
		{"PATCH", "/auth/email/change/", "POST, OPTIONS"},
	} {
		r := e.call(tt.method, tt.path, "")
		want(t, r, 405, `{"detail":"Method \"`+tt.method+`\" not allowed."}`)
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
		r = e.call("OPTIONS", tt.path, "")
		if r.status != 200 || r.header.Get("Allow") != tt.allow {
			t.Errorf("OPTIONS %s: %d Allow %q", tt.path, r.status, r.header.Get("Allow"))
		}
	}
}

// A user agent is cut at 512 characters, not bytes: one of two-byte characters keeps 512 of them.
func TestSessionUserAgentIsCutInCharacters(t *testing.T) {
	e := newEnv(t)
	e.register("ua@example.com")
	for _, tt := range []struct{ sent, kept string }{
		{strings.Repeat("é", 2000), strings.Repeat("é", 512)},
		{strings.Repeat("a", 511) + "€€", strings.Repeat("a", 511) + "€"},
		{"Mozilla/5.0 (€)", "Mozilla/5.0 (€)"},
	} {
		r := e.call("POST", "/auth/token/", `{"email":"ua@example.com","password":"`+testPassword+`"}`, "User-Agent: "+tt.sent)
		if got := e.sessionsOf(r.str("access"))[0]["user_agent"]; got != tt.kept {
			t.Errorf("user agent of %d bytes kept as %d characters %.40q..., want %d characters", len(tt.sent),
				len([]rune(got.(string))), got, len([]rune(tt.kept)))
		}
	}
}

// Text rules hold on the signed-in endpoints too: a NUL in any field, in any of the three body
// encodings, is the field's 400, and nothing changes.
func TestNullCharactersAreRefusedInSignedInFields(t *testing.T) {
	e := newEnv(t)
	e.register("nul@example.com")
	access, _ := e.login("nul@example.com", testPassword)
	before := e.as(access, "GET", "/auth/me/", nil).raw
	for _, ep := range []struct {
		method, path string
		fields       []string
		body         map[string]string
	}{
		{"PATCH", "/auth/me/", []string{"first_name", "last_name", "address", "phone_no"},
			map[string]string{"first_name": "Ada", "last_name": "Lovelace", "address": "1 Main St", "phone_no": "+44 20 7183 8750"}},
		{"DELETE", "/auth/me/", []string{"password"}, map[string]string{"password": testPassword}},
		{"POST", "/auth/password/change/", []string{"old_password", "new_password"},
			map[string]string{"old_password": testPassword, "new_password": "a fine new secret"}},
		{"POST", "/auth/email/change/", []string{"email", "password"}, map[string]string{"email": "new@example.com", "password": testPassword}},
		{"POST", "/auth/email/change/confirm/", []string{"otp"}, map[string]string{"otp": "123456"}},
	} {
		for _, f := range ep.fields {
			for _, enc := range encodings {
				t.Run(ep.method+ep.path+f+"/"+enc.name, func(t *testing.T) {
					ct, body := enc.encode(with(ep.body, f, "x\x00"+ep.body[f]))
					r := e.callBody(ep.method, ep.path, body, "Authorization: Bearer "+access, "Content-Type: "+ct)
					want(t, r, 400, fmt.Sprintf(`{%q:["Null characters are not allowed."]}`, f))
					if got := e.as(access, "GET", "/auth/me/", nil).raw; got != before {
						t.Fatalf("the profile changed:\n%s\nwas\n%s", got, before)
					}
				})
			}
		}
	}
	e.login("nul@example.com", testPassword)
	if n := len(e.smtp.Received()); n != 0 {
		t.Fatalf("%d emails sent", n)
	}
}

// Whatever ends a sign-in (deleting or disabling the account, a password change, ending it, signing
// out everywhere), the refresh reuse window does not bring it back: the used token presented again
// at once is a 401, as are the successor and every access token.
func TestReuseWindowNeverRevivesAnEndedSignIn(t *testing.T) {
	e := newEnv(t)
	for _, action := range []string{"delete", "change", "end", "all", "disable"} {
		t.Run(action, func(t *testing.T) {
			email := action + "@example.com"
			e.register(email)
			first, used := e.login(email, testPassword)
			next := e.refresh(used)
			access := next.str("access")
			if next.status != 200 {
				t.Fatalf("refresh: %d %s", next.status, next.raw)
			}
			switch action {
			case "delete":
				want(t, e.as(access, "DELETE", "/auth/me/", obj{"password": testPassword}), 200, `{"detail":"Account deleted"}`)
			case "change":
				r := e.as(access, "POST", "/auth/password/change/", obj{"old_password": testPassword, "new_password": "some new secret 9"})
				if r.status != 200 {
					t.Fatalf("change: %d %s", r.status, r.raw)
				}
			case "end":
				want(t, e.as(access, "DELETE", "/auth/sessions/"+e.sessionIDs(access)[0]+"/", nil), 200, `{}`)
			case "all":
				want(t, e.as(access, "POST", "/auth/logout/all/", nil), 200, `{}`)
			case "disable":
				if err := e.store.SetUserActive(context.Background(), e.me(access)["id"].(string), false); err != nil {
					t.Fatal(err)
				}
			}
			want(t, e.refresh(used), 401, invalidToken)
			want(t, e.refresh(next.str("refresh")), 401, invalidToken)
			e.signedOut(first)
			e.signedOut(access)
		})
	}
}
