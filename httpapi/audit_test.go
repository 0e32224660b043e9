package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

// auditRow is an event as GET /admin/audit answers it.
type auditRow struct {
	ID        string            `json:"id"`
	Time      string            `json:"time"`
	Event     string            `json:"event"`
	UserID    *string           `json:"user_id"`
	SID       *string           `json:"sid"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	RequestID string            `json:"request_id"`
	Detail    map[string]string `json:"detail"`
}

func auditPage(t *testing.T, a *env, query string) ([]auditRow, *string) {
	t.Helper()
	r := a.adm("GET", "/admin/audit/?"+query, nil)
	if r.status != 200 {
		t.Fatalf("GET /admin/audit/?%s: %d %s", query, r.status, r.raw)
	}
	var page struct {
		Results []auditRow `json:"results"`
		Next    *string    `json:"next"`
	}
	if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
		t.Fatal(err)
	}
	return page.Results, page.Next
}

// TestAuditEvents makes each event the contract lists happen through the API and finds it in
// GET /admin/audit with the account, the sign-in, and the request's address, user agent and id.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 3; e.cfg.ReuseWindow = 0 })
	a := e.adminAPI()
	n := 0
	// send makes a request with its own user agent and request id, and returns the id.
	send := func(method, path, access string, body obj, status int) (string, response) {
		t.Helper()
		n++
		rid := fmt.Sprintf("audit-request-%d", n)
		headers := []string{"User-Agent", "audit-test/" + rid, "X-Request-ID", rid}
		if access != "" {
			headers = append(headers, "Authorization", "Bearer "+access)
		}
		raw := ""
		if body != nil {
			b, _ := json.Marshal(body)
			raw = string(b)
		}
		r := e.do(method, path, "application/json", raw, headers...)
		if r.status != status {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.raw, status)
		}
		return rid, r
	}
	// check finds the newest event of its kind and that it came from request rid.
	check := func(event, rid, userID string, withSID bool) auditRow {
		t.Helper()
		rows, _ := auditPage(t, a, "event="+event+"&limit=1")
		if len(rows) != 1 {
			t.Fatalf("no %s event", event)
		}
		ev := rows[0]
		if ev.RequestID != rid || ev.IP != "127.0.0.1" || ev.UserAgent != "audit-test/"+rid || ev.Event != event || ev.ID == "" {
			t.Errorf("%s: got %+v, want request %s from 127.0.0.1", event, ev, rid)
		}
		if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
			t.Errorf("%s: time %q", event, ev.Time)
		}
		if userID != "" && (ev.UserID == nil || *ev.UserID != userID) {
			t.Errorf("%s: user_id %v, want %s", event, ev.UserID, userID)
		}
		if withSID && (ev.SID == nil || *ev.SID == "") {
			t.Errorf("%s: no sid: %+v", event, ev)
		}
		return ev
	}
	userID := func(email string) string {
		t.Helper()
		rows, _ := auditPage(t, a, "user="+url.QueryEscape(email)+"&event=user_created")
		if len(rows) != 1 || rows[0].UserID == nil {
			t.Fatalf("user_created of %s: %+v", email, rows)
		}
		return *rows[0].UserID
	}

	body := obj{"first_name": "Grace", "last_name": "Hopper", "email": "audit@example.com", "phone_no": newPhone(), "password": testPassword}
	rid, _ := send("POST", "/auth/register/", "", body, 201)
	id := userID("audit@example.com")
	check("user_created", rid, id, false)

	rid, r := send("POST", "/auth/token/", "", obj{"email": "audit@example.com", "password": testPassword}, 200)
	access, refresh := r.str("access"), r.str("refresh")
	login := check("login", rid, id, true)

	rid, _ = send("POST", "/auth/token/", "", obj{"email": "audit@example.com", "password": "wrong password"}, 401)
	check("login_failed", rid, id, false)

	// Refresh reuse: the used token again, with no reuse window, revokes the sign-in.
	_, r = send("POST", "/auth/token/refresh/", "", obj{"refresh_token": refresh}, 200)
	rid, _ = send("POST", "/auth/token/refresh/", "", obj{"refresh_token": refresh}, 401)
	if ev := check("refresh_reuse", rid, id, true); *ev.SID != *login.SID {
		t.Errorf("refresh_reuse of sign-in %s, want %s", *ev.SID, *login.SID)
	}

	_, refresh = e.login("audit@example.com", testPassword)
	rid, _ = send("POST", "/auth/logout/", "", obj{"refresh_token": refresh}, 200)
	check("logout", rid, id, true)

	access, _ = e.login("audit@example.com", testPassword)
	other, _ := e.login("audit@example.com", testPassword)
	sessions := e.as(other, "GET", "/auth/sessions/", nil)
	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	json.Unmarshal([]byte(sessions.raw), &list)
	var end string
	for _, s := range list {
		if !s.Current {
			end = s.ID
		}
	}
	if end == "" {
		t.Fatalf("sessions: %s", sessions.raw)
	}
	rid, _ = send("DELETE", "/auth/sessions/"+end+"/", other, nil, 200)
	if ev := check("session_revoked", rid, id, true); *ev.SID != end {
		t.Errorf("session_revoked of %s, want %s", *ev.SID, end)
	}

	rid, r = send("POST", "/auth/password/change/", other, obj{"old_password": testPassword, "new_password": "a new secret phrase"}, 200)
	check("password_change", rid, id, false)
	access = r.str("access")

	rid, _ = send("POST", "/auth/logout/all/", access, nil, 200)
	check("logout_all", rid, id, false)

	before := len(e.smtp.Received())
	rid, _ = send("POST", "/auth/password/reset/", "", obj{"email": "audit@example.com"}, 200)
	check("reset_request", rid, id, false)
	code := ""
	for n := before + 1; code == ""; n++ {
		for _, m := range e.smtp.WaitFor(n)[before:] {
			if m.To == "audit@example.com" && strings.Contains(m.Subject, "reset code") {
				code = authtest.Code(t, m)
			}
		}
	}
	rid, _ = send("POST", "/auth/password/reset/confirm/", "", obj{"email": "audit@example.com", "otp": code, "password": "yet another phrase"}, 200)
	check("reset_confirm", rid, id, false)

	for range 3 {
		send("POST", "/auth/token/", "", obj{"email": "audit@example.com", "password": "wrong password"}, 401)
	}
	rid, _ = send("POST", "/auth/token/", "", obj{"email": "audit@example.com", "password": "wrong password"}, 429)
	check("login_locked", rid, "", false)

	// The admin's actions: each an admin_action saying which, and the account's own event.
	admin := func(method, path string, body obj) string {
		t.Helper()
		n++
		rid := fmt.Sprintf("audit-request-%d", n)
		raw := ""
		if body != nil {
			b, _ := json.Marshal(body)
			raw = string(b)
		}
		r := a.do(method, path, "application/json", raw, "Authorization", "Bearer "+adminToken, "User-Agent", "audit-test/"+rid, "X-Request-ID", rid)
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.raw)
		}
		return rid
	}
	for _, c := range []struct {
		method, path string
		body         obj
		action       string
		event        string
	}{
		{"PATCH", "/admin/users/" + id + "/", obj{"is_active": false}, "user_disable", "user_disabled"},
		{"PATCH", "/admin/users/" + id + "/", obj{"is_active": true}, "user_enable", "user_enabled"},
		{"POST", "/admin/users/" + id + "/signout/", nil, "user_signout", "logout_all"},
		{"POST", "/admin/users/" + id + "/unlock/", nil, "user_unlock", ""},
		{"DELETE", "/admin/users/" + id + "/", nil, "user_delete", "user_deleted"},
	} {
		rid := admin(c.method, c.path, c.body)
		if ev := check("admin_action", rid, id, false); ev.Detail["action"] != c.action {
			t.Errorf("admin_action detail %v, want action %s", ev.Detail, c.action)
		}
		if c.event != "" {
			check(c.event, rid, id, false)
		}
	}

	// The account's whole history, kept after it was deleted, newest first.
	rows, _ := auditPage(t, a, "user="+id+"&limit=100")
	if len(rows) < 20 || rows[0].Event != "user_deleted" && rows[0].Event != "admin_action" || rows[len(rows)-1].Event != "user_created" {
		t.Errorf("history of %s: %d events, first %s, last %s", id, len(rows), rows[0].Event, rows[len(rows)-1].Event)
	}
}

func TestAdminAuditPagesAndFilters(t *testing.T) {
	e := newEnv(t)
	a := e.adminAPI()
	for i := range 5 {
		e.register(fmt.Sprintf("page%d@example.com", i))
	}
	e.login("page0@example.com", testPassword)

	// Pages of two, newest first, that add up to all the events, while events are added.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := "event=user_created&limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		rows, next := auditPage(t, a, q)
		for _, r := range rows {
			seen = append(seen, r.ID)
			if r.Event != "user_created" {
				t.Errorf("event filter let %s through", r.Event)
			}
		}
		if pages == 0 {
			e.register("late@example.com") // lands before the first page: never in the later ones
		}
		if next == nil {
			break
		}
		cursor = *next
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d user_created events, want 5", len(seen))
	}
	all, _ := auditPage(t, a, "limit=100")
	if len(all) != 7 {
		t.Fatalf("%d events, want 7 (six accounts, one sign-in)", len(all))
	}
	newest, _ := time.Parse(time.RFC3339Nano, all[0].Time)
	rows, _ := auditPage(t, a, "since="+url.QueryEscape(newest.Format(time.RFC3339Nano)))
	if len(rows) == 0 || len(rows) == 7 || rows[0].ID != all[0].ID {
		t.Errorf("since the newest: %d events", len(rows))
	}
	if rows, _ := auditPage(t, a, "since="+all[6].Time[:10]); len(rows) != 7 {
		t.Errorf("since the day: %d events, want 7", len(rows))
	}
	if rows, _ := auditPage(t, a, "since=2999-01-01"); len(rows) != 0 {
		t.Errorf("since the future: %d", len(rows))
	}
	if rows, _ := auditPage(t, a, "user=page0@example.com"); len(rows) != 2 || rows[0].Event != "login" {
		t.Errorf("by email: %+v", rows)
	}
	if rows, _ := auditPage(t, a, "user=nobody@example.com"); len(rows) != 0 {
		t.Errorf("unknown email: %+v", rows)
	}

	for _, c := range []struct{ query, body string }{
		{"limit=0", `{"limit":["Ensure this value is greater than or equal to 1."]}`},
		{"limit=x", `{"limit":["A valid integer is required."]}`},
		{"limit=101", `{"limit":["Ensure this value is less than or equal to 100."]}`},
		{"cursor=nope", `{"cursor":["Invalid cursor."]}`},
		{"since=yesterday", `{"since":["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}`},
		{"event=signed_in", `{"event":["\"signed_in\" is not a valid choice."]}`},
		{"user=not-an-id", `{"user":["Must be an account id or an email."]}`},
	} {
		want(t, a.adm("GET", "/admin/audit?"+c.query, nil), 400, c.body)
	}
	want(t, e.do("GET", "/admin/audit", "", ""), 404, `{"detail":"Not found."}`) // never on the public listener
}

// Found by the outside review of the audit log: a wrong second-factor code is a login_failed
// row; login_locked names the account, once per window however many attempts hit the lock;
// signed-in events carry the caller's sign-in; a password change's new sign-in has its login row.
func TestAuditReviewFindings(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 3 })
	a := e.adminAPI()
	en := e.enrol("audited@example.com")
	u, _ := e.store.UserByEmailKey(t.Context(), "audited@example.com")
	count := func(event string) int {
		rows, _ := auditPage(t, a, "user="+u.ID+"&event="+event+"&limit=100")
		return len(rows)
	}
	before := count("login_failed")
	want(t, e.finishMFA(e.mfaToken(en.email), e.wrongCode(en.secret)), 400, badCode)
	if count("login_failed") != before+1 {
		t.Fatal("a wrong second-factor code left no login_failed row")
	}

	access := e.wantPair(e.finishMFA(e.mfaToken(en.email), e.codeAt(en.secret, 0)), "pwd", "otp", "mfa")
	var sid string
	for _, s := range e.sessionsOf(access) {
		if s["current"] == true {
			sid = s["id"].(string)
		}
	}
	r := e.authed("POST", "/auth/password/change/", access, obj{"old_password": testPassword, "new_password": "another long secret 42"})
	if r.status != 200 {
		e.failf(r, "password change")
	}
	rows, _ := auditPage(t, a, "user="+u.ID+"&event=password_change")
	if len(rows) != 1 || rows[0].SID == nil || *rows[0].SID != sid {
		t.Fatalf("password_change rows %+v, want one with the caller's sign-in %s", rows, sid)
	}
	logins, _ := auditPage(t, a, "user="+u.ID+"&event=login&limit=100")
	newSID := ""
	for _, s := range e.sessionsOf(r.str("access")) {
		newSID = s["id"].(string)
	}
	found := false
	for _, l := range logins {
		found = found || (l.SID != nil && *l.SID == newSID)
	}
	if !found {
		t.Fatalf("no login row for the sign-in the password change started (%s)", newSID)
	}

	for range 3 {
		e.post("/auth/token/", obj{"email": en.email, "password": "wrong password"})
	}
	for range 20 {
		if r := e.post("/auth/token/", obj{"email": en.email, "password": "wrong password"}); r.status != 429 {
			e.failf(r, "a locked email: want 429")
		}
	}
	if n := count("login_locked"); n != 1 {
		t.Fatalf("%d login_locked rows for the account, want one per window", n)
	}
}

// The events of email verification and change, two-factor sign-in and Google linking are in the
// audit log with the account, and the signed-in ones with the caller's sign-in.
func TestAuditEventsOfTheAccountFlows(t *testing.T) {
	e := newEnv(t, withGoogle, withVerification(auth.VerificationSend))
	a := e.adminAPI()
	e.registerTyped("flows@gmail.com", strPtr(testPassword))
	code := e.mailCode(0, "flows@gmail.com", subjectVerify)
	want(t, e.post("/auth/email/verify/", obj{"email": "flows@gmail.com", "otp": code}), 200, `{"detail":"Email verified"}`)
	u, _ := e.store.UserByEmailKey(t.Context(), "flows@gmail.com")
	has := func(event string, withSID bool) {
		t.Helper()
		rows, _ := auditPage(t, a, "user="+u.ID+"&event="+event)
		if len(rows) == 0 || rows[0].UserID == nil || *rows[0].UserID != u.ID || (withSID && rows[0].SID == nil) {
			t.Fatalf("%s: rows %+v, want one of the account%s", event, rows, map[bool]string{true: " with its sign-in"}[withSID])
		}
	}
	has("email_verified", false)

	// Google is authoritative for a Gmail address: its identity links to the account.
	g := authtest.GoogleUser{Sub: "2024", Email: "flows@gmail.com", EmailVerified: true, GivenName: "F", FamilyName: "L"}
	if r := e.social(e.google.IDToken(g, nil)); r.status != 200 {
		t.Fatalf("Google sign-in: %d %s", r.status, r.raw)
	}
	has("social_link", false)

	access, _ := e.login("flows@gmail.com", testPassword)
	en := e.enrolSignedIn("flows@gmail.com", access, testPassword)
	has("mfa_enabled", true)
	want(t, e.authed("DELETE", "/auth/mfa/totp/", access, obj{"otp": e.codeAt(en.secret, 0)}), 200, `{}`)
	has("mfa_disabled", true)

	ch := e.changeEmail(access, "moved@example.com", testPassword)
	if r := e.bearer("POST", "/auth/email/change/confirm/", access, obj{"otp": ch}); r.status != 200 {
		t.Fatalf("email change: %d %s", r.status, r.raw)
	}
	has("email_change", true)
}
