package httpapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/httpapi"
)

const adminToken = "an-admin-token-of-at-least-32-characters"

// admin serves the admin API of e's service on a listener of its own and returns an env whose
// requests go there (e's own go to the public handler, as before).
func (e *env) adminAPI(opts ...func(*httpapi.AdminOptions)) *env {
	e.t.Helper()
	o := httpapi.AdminOptions{Log: e.handlerLog(), Token: adminToken}
	for _, f := range opts {
		f(&o)
	}
	srv := httptest.NewServer(httpapi.NewAdminHandler(e.svc, o))
	e.t.Cleanup(srv.Close)
	a := *e
	a.url, a.admin = srv.URL, true
	return &a
}

// handlerLog is a logger writing to e's log buffer, as the public handler's does.
func (e *env) handlerLog() *slog.Logger { return slog.New(slog.NewJSONHandler(e.logs, nil)) }

func cheapHasher() *auth.Hasher {
	return auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)
}

// as sends an admin request with the token.
func (e *env) adm(method, path string, body any) response {
	e.t.Helper()
	raw := ""
	if body != nil {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	return e.do(method, path, "application/json", raw, "Authorization", "Bearer "+adminToken)
}

func TestAdminRefusesRequestsWithoutTheToken(t *testing.T) {
	e := newEnv(t)
	a := e.adminAPI()
	for _, c := range []struct {
		name, header, body string
	}{
		{"no header", "", `{"detail":"Authentication credentials were not provided."}`},
		{"another scheme", "Basic " + adminToken, `{"detail":"Authentication credentials were not provided."}`},
		{"wrong token", "Bearer wrong-" + adminToken, `{"detail":"Invalid token."}`},
		{"a prefix of the token", "Bearer " + adminToken[:20], `{"detail":"Invalid token."}`},
		{"the token twice", "Bearer " + adminToken + " " + adminToken, `{"detail":"Authentication credentials were not provided."}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/admin/users", "/admin/users/x/", "/metrics", "/nowhere"} {
				var headers []string
				if c.header != "" {
					headers = []string{"Authorization", c.header}
				}
				r := a.do("GET", path, "", "", headers...)
				want(t, r, 401, c.body)
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="admin"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
		})
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"admin request refused"`) || !strings.Contains(logs, `"client_ip":"127.0.0.1"`) {
		t.Errorf("refusals are not logged with the client address:\n%s", logs)
	}
	if strings.Contains(logs, adminToken[:20]) {
		t.Error("the log holds (part of) the token")
	}
	// The admin API is never on the public listener.
	want(t, e.do("GET", "/admin/users", "", "", "Authorization", "Bearer "+adminToken), 404, `{"detail":"Not found."}`)
	// A handler given no token refuses everything, the empty token included.
	empty := e.adminAPI(func(o *httpapi.AdminOptions) { o.Token = "" })
	want(t, empty.do("GET", "/admin/users", "", "", "Authorization", "Bearer "), 401, `{"detail":"Authentication credentials were not provided."}`)
}

func TestAdminUsers(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 3 })
	a := e.adminAPI()

	// Created as registration creates, with its rules.
	r := a.adm("POST", "/admin/users", obj{"first_name": "Ada"})
	want(t, r, 400, `{"last_name":["This field is required."],"email":["This field is required."],"phone_no":["This field is required."]}`)
	phone := newPhone()
	r = a.adm("POST", "/admin/users/", obj{"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "phone_no": phone, "password": testPassword})
	if r.status != 201 || r.str("email") != "Ada@example.com" || r.body["is_active"] != true || r.body["last_login"] != nil || r.body["has_password"] != true {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	ada := r.str("id")
	want(t, a.adm("POST", "/admin/users/", obj{"first_name": "A", "last_name": "L", "email": "ada@example.com", "phone_no": newPhone()}), 400,
		`{"email":["user with this email already exists."]}`)
	// Without a password, a code to set one is mailed.
	r = a.adm("POST", "/admin/users/", obj{"first_name": "Bea", "last_name": "Nopass", "email": "bea@example.com", "phone_no": newPhone()})
	if r.status != 201 || r.body["has_password"] != false {
		t.Fatalf("create without a password: %d %s", r.status, r.raw)
	}
	bea := r.str("id")
	if m := e.smtp.WaitFor(1); m[0].To != "bea@example.com" {
		t.Fatalf("the set-a-password email went to %s", m[0].To)
	}

	access, refresh := e.login("ada@example.com", testPassword)
	r = a.adm("GET", "/admin/users/"+ada+"/", nil)
	if r.status != 200 || r.body["last_login"] == nil || r.str("first_name") != "Ada" || r.str("phone_no") != phone {
		t.Fatalf("show: %d %s", r.status, r.raw)
	}
	for _, key := range []string{"id", "email", "first_name", "last_name", "address", "phone_no", "email_verified", "date_joined", "has_password", "social", "mfa", "is_active", "last_login"} {
		if _, ok := r.body[key]; !ok {
			t.Errorf("a user has no %q: %s", key, r.raw)
		}
	}

	// PATCH: the profile's fields, with their rules; booleans; a taken email.
	r = a.adm("PATCH", "/admin/users/"+ada, obj{"first_name": "Augusta", "address": "12 St James's Square"})
	if r.status != 200 || r.str("first_name") != "Augusta" || r.str("address") != "12 St James's Square" || r.str("last_name") != "Lovelace" {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	want(t, a.adm("PATCH", "/admin/users/"+ada, obj{"email": "BEA@example.com"}), 400, `{"email":["user with this email already exists."]}`)
	want(t, a.adm("PATCH", "/admin/users/"+ada, obj{"is_active": "maybe", "email_verified": 3, "first_name": ""}), 400,
		`{"is_active":["Must be a valid boolean."],"email_verified":["Must be a valid boolean."],"first_name":["This field may not be blank."]}`)
	want(t, a.adm("PATCH", "/admin/users/"+ada, obj{"email": "not an email"}), 400, `{"email":["Enter a valid email address."]}`)

	// Disabling revokes nothing, but the account's tokens fail at once; enabling brings them back.
	r = a.adm("PATCH", "/admin/users/"+ada, obj{"is_active": false})
	if r.status != 200 || r.body["is_active"] != false {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	want(t, e.do("GET", "/auth/me/", "", "", "Authorization", "Bearer "+access), 401,
		`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`)
	want(t, e.post("/auth/token/", obj{"email": "ada@example.com", "password": testPassword}), 401, noAccount)
	if r := a.adm("PATCH", "/admin/users/"+ada, obj{"is_active": true}); r.body["is_active"] != true {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/auth/me/", "", "", "Authorization", "Bearer "+access); r.status != 200 {
		t.Fatalf("the token after enabling: %d %s", r.status, r.raw)
	}

	// A new email is unverified unless the request says otherwise.
	r = a.adm("PATCH", "/admin/users/"+ada, obj{"email": "augusta@example.com", "email_verified": "true"})
	if r.status != 200 || r.str("email") != "augusta@example.com" || r.body["email_verified"] != true {
		t.Fatalf("email change: %d %s", r.status, r.raw)
	}
	if r := a.adm("PATCH", "/admin/users/"+ada, obj{"email": "ada@example.com"}); r.body["email_verified"] != false {
		t.Fatalf("email change without email_verified: %d %s", r.status, r.raw)
	}

	// Sign out ends every sign-in.
	want(t, a.adm("POST", "/admin/users/"+ada+"/signout/", nil), 200, `{}`)
	want(t, e.refresh(refresh), 401, invalidToken)
	if r := e.do("GET", "/auth/me/", "", "", "Authorization", "Bearer "+access); r.status != 401 {
		t.Fatalf("the access token after sign-out: %d", r.status)
	}

	// Unlock clears the failed sign-ins of the account's email (the refused sign-in of the
	// disabled account counted one already).
	want(t, a.adm("POST", "/admin/users/"+ada+"/unlock", nil), 200, `{}`)
	for range 3 {
		want(t, e.post("/auth/token/", obj{"email": "ada@example.com", "password": "wrong password"}), 401, noAccount)
	}
	if r := e.post("/auth/token/", obj{"email": "ada@example.com", "password": testPassword}); r.status != 429 {
		t.Fatalf("locked: %d %s", r.status, r.raw)
	}
	want(t, a.adm("POST", "/admin/users/"+ada+"/unlock", nil), 200, `{}`)
	e.login("ada@example.com", testPassword)

	// Delete, then it is gone.
	want(t, a.adm("DELETE", "/admin/users/"+bea+"/", nil), 200, `{}`)
	want(t, a.adm("GET", "/admin/users/"+bea+"/", nil), 404, `{"detail":"Not found."}`)

	// An unknown or malformed id is 404 everywhere.
	for _, id := range []string{bea, "not-a-uuid", strings.ToUpper(ada), "%00", "00000000-0000-0000-0000-000000000000"} {
		for _, c := range []struct{ method, path string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/signout"}, {"POST", "/unlock"}} {
			want(t, a.adm(c.method, "/admin/users/"+id+c.path, obj{"first_name": "X"}), 404, `{"detail":"Not found."}`)
		}
	}
	want(t, a.adm("PUT", "/admin/users/"+ada, nil), 405, `{"detail":"Method \"PUT\" not allowed."}`)

	logs := e.logs.String()
	for _, action := range []string{"user_create", "user_show", "user_update", "user_disable", "user_enable", "user_signout", "user_unlock", "user_delete"} {
		if !strings.Contains(logs, `"event":"admin_action"`) || !strings.Contains(logs, `"action":"`+action+`"`) {
			t.Errorf("no admin_action event for %s", action)
		}
	}
}

func TestAdminUserListPagesAndSearches(t *testing.T) {
	e := newEnv(t, func(e *env) { e.hasher = cheapHasher() })
	a := e.adminAPI()
	for _, q := range []struct{ query, body string }{
		{"limit=0", `{"limit":["Ensure this value is greater than or equal to 1."]}`},
		{"limit=101", `{"limit":["Ensure this value is less than or equal to 100."]}`},
		{"limit=ten", `{"limit":["A valid integer is required."]}`},
		{"cursor=%21%21", `{"cursor":["Invalid cursor."]}`},
		{"cursor=" + url.QueryEscape("bm90IGEgY3Vyc29y"), `{"cursor":["Invalid cursor."]}`},
		{"search=%00", `{"search":["Null characters are not allowed."]}`},
	} {
		want(t, a.adm("GET", "/admin/users?"+q.query, nil), 400, q.body)
	}
	want(t, a.adm("GET", "/admin/users", nil), 200, `{"results":[],"next":null}`)

	const before = 23
	for i := range before {
		e.clock.Advance(1) // some share a time: ids break ties
		if i%3 == 0 {
			e.clock.Advance(1e6)
		}
		e.register(fmt.Sprintf("user%02d@example.com", i))
	}
	// Pages of 5 while others register: every user there at the start appears exactly once.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := obj{"first_name": "Late", "last_name": "Comer", "email": fmt.Sprintf("late%03d@example.com", i), "phone_no": newPhone(), "password": testPassword}
			if r := e.post("/auth/register/", body); r.status != 201 {
				t.Errorf("register during paging: %d %s", r.status, r.raw)
				return
			}
		}
	})
	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		q := "/admin/users?limit=5"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.adm("GET", q, nil)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
		}
		for _, u := range r.body["results"].([]any) {
			seen[u.(map[string]any)["email"].(string)]++
		}
		pages++
		next, _ := r.body["next"].(string)
		if next == "" || pages > 200 {
			break
		}
		cursor = next
	}
	close(stop)
	wg.Wait()
	for email, n := range seen {
		if n != 1 {
			t.Errorf("%s shown %d times", email, n)
		}
	}
	for i := range before {
		if email := fmt.Sprintf("user%02d@example.com", i); seen[email] != 1 {
			t.Errorf("%s shown %d times, want once", email, seen[email])
		}
	}

	// The search matches email and names, case-insensitively.
	r := a.adm("GET", "/admin/users?search=USER1&limit=100", nil)
	if got := len(r.body["results"].([]any)); got != 10 {
		t.Errorf("search USER1: %d results, want 10: %s", got, r.raw)
	}
	r = a.adm("GET", "/admin/users?search=late%20comer&limit=1", nil)
	if got := len(r.body["results"].([]any)); got != 1 {
		t.Errorf("search by full name: %s", r.raw)
	}
	want(t, a.adm("GET", "/admin/users?search=nobody", nil), 200, `{"results":[],"next":null}`)
}
