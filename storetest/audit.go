package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// The audit log: rows written in the transaction of the change they record, listed newest first
// by filter and keyset, purged past the retention.

func auditEvent(id, event, userID string, at time.Time) auth.AuditEvent {
	return auth.AuditEvent{ID: id, Time: at, Event: event, UserID: userID, SessionID: "s-" + id, IP: "192.0.2.1",
		UserAgent: "test/1", RequestID: "req-" + id, Detail: map[string]string{"action": "x"}}
}

func auditIDs(t *testing.T, s Store, q auth.AuditQuery) []string {
	t.Helper()
	got, err := s.AuditEvents(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, ev := range got {
		ids = append(ids, ev.ID)
	}
	return ids
}

func testAuditWithChange(t *testing.T, s Store) {
	u := user("u1", "ann@example.com", "")
	if err := s.CreateUser(ctx, u, nil, nil, auditEvent("a1", "user_created", "u1", t0)); err != nil {
		t.Fatal(err)
	}
	sess := auth.Session{ID: "s1", UserID: "u1", CreatedAt: t0, AMR: []string{"pwd"}, PasswordChangedAt: u.PasswordChangedAt}
	first := auth.RefreshToken{JTI: "j1", SessionID: "s1", UserID: "u1", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess, first, auditEvent("a2", "login", "u1", t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditEvents(ctx, auth.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a2" || got[1].ID != "a1" {
		t.Fatalf("got %+v, want a2 then a1", got)
	}
	want := auditEvent("a2", "login", "u1", t0.Add(time.Second))
	ev := got[0]
	if ev.Event != want.Event || !ev.Time.Equal(want.Time) || ev.UserID != want.UserID || ev.SessionID != want.SessionID ||
		ev.IP != want.IP || ev.UserAgent != want.UserAgent || ev.RequestID != want.RequestID || ev.Detail["action"] != "x" {
		t.Fatalf("got %+v, want %+v", ev, want)
	}

	// A change that fails writes no event: a sign-in refused for changed credentials, a session
	// of a disabled user, a taken email, an unknown user's deletion.
	stale := sess
	stale.ID, stale.PasswordChangedAt = "s2", t0.Add(-time.Hour)
	first2 := first
	first2.JTI, first2.SessionID = "j2", "s2"
	if err := s.CreateSession(ctx, stale, first2, auditEvent("bad1", "login", "u1", t0)); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("stale sign-in: %v, want ErrConflict", err)
	}
	if err := s.CreateUser(ctx, user("u2", "ann@example.com", ""), nil, nil, auditEvent("bad2", "user_created", "u2", t0)); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("taken email: %v", err)
	}
	if err := s.DeleteUser(ctx, "nobody", auditEvent("bad3", "user_deleted", "nobody", t0)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := s.RevokeUserSession(ctx, "u1", "nope", t0, auditEvent("bad4", "session_revoked", "u1", t0)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if err := s.SetUserActive(ctx, "nobody", false, auditEvent("bad5", "user_disabled", "nobody", t0)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := s.ChangeAccount(ctx, auth.AccountChange{UserID: "u1", At: t0, IfPasswordChangedAt: &stale.PasswordChangedAt, SetPassword: true,
		Audit: []auth.AuditEvent{auditEvent("bad6", "password_change", "u1", t0)}}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("stale change: %v", err)
	}
	if err := s.UpdateUser(ctx, "nobody", auth.UserUpdate{}, t0, auditEvent("bad7", "admin_action", "nobody", t0)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if got := fmt.Sprint(auditIDs(t, s, auth.AuditQuery{Limit: 10})); got != "[a2 a1]" {
		t.Fatalf("after failed changes: %s", got)
	}

	// Changes that succeed commit their events, several at once where given.
	at := t0.Add(2 * time.Second)
	if err := s.ChangeAccount(ctx, auth.AccountChange{UserID: "u1", At: at, RevokeSessions: true,
		Audit: []auth.AuditEvent{auditEvent("a3", "admin_action", "u1", at), auditEvent("a4", "logout_all", "u1", at)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserActive(ctx, "u1", false, auditEvent("a5", "user_disabled", "u1", at.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "s1", at, auditEvent("a6", "logout", "u1", at.Add(2*time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1", auditEvent("a7", "user_deleted", "u1", at.Add(3*time.Second))); err != nil {
		t.Fatal(err)
	}
	// An event without a name is no event; one with no change is written alone.
	if err := s.RevokeSession(ctx, "s1", at, auth.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAuditEvent(ctx, auditEvent("a8", "login_failed", "", at.Add(4*time.Second))); err != nil {
		t.Fatal(err)
	}
	// The log outlives the account it is about.
	if got := fmt.Sprint(auditIDs(t, s, auth.AuditQuery{Limit: 10})); got != "[a8 a7 a6 a5 a4 a3 a2 a1]" {
		t.Fatalf("after the changes: %s", got)
	}
}

func testAuditList(t *testing.T, s Store) {
	// Pairs share a time: the id breaks the tie, newest (highest) first.
	events := []auth.AuditEvent{
		auditEvent("e0", "login", "u1", t0),
		auditEvent("e1", "login_failed", "u2", t0),
		auditEvent("e2", "login", "u2", t0.Add(time.Second)),
		auditEvent("e3", "logout", "u1", t0.Add(time.Second)),
		auditEvent("e4", "login", "u1", t0.Add(2*time.Second)),
	}
	for _, ev := range events {
		if err := s.AddAuditEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		q    auth.AuditQuery
		want string
	}{
		{"all", auth.AuditQuery{Limit: 10}, "[e4 e3 e2 e1 e0]"},
		{"user", auth.AuditQuery{UserID: "u1", Limit: 10}, "[e4 e3 e0]"},
		{"event", auth.AuditQuery{Event: "login", Limit: 10}, "[e4 e2 e0]"},
		{"user and event", auth.AuditQuery{UserID: "u2", Event: "login", Limit: 10}, "[e2]"},
		{"since", auth.AuditQuery{Since: t0.Add(time.Second), Limit: 10}, "[e4 e3 e2]"},
		{"limit", auth.AuditQuery{Limit: 2}, "[e4 e3]"},
		{"after a tie", auth.AuditQuery{BeforeTime: t0.Add(time.Second), BeforeID: "e3", Limit: 10}, "[e2 e1 e0]"},
		{"after a tie, filtered", auth.AuditQuery{UserID: "u2", BeforeTime: t0.Add(time.Second), BeforeID: "e2", Limit: 10}, "[e1]"},
		{"since and keyset", auth.AuditQuery{Since: t0.Add(time.Second), BeforeTime: t0.Add(time.Second), BeforeID: "e3", Limit: 10}, "[e2]"},
		{"none", auth.AuditQuery{UserID: "nobody", Limit: 10}, "[]"},
	} {
		if got := fmt.Sprint(auditIDs(t, s, c.q)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	// An event added while paging lands before the first page, never inside the pages after it.
	page1 := auditIDs(t, s, auth.AuditQuery{Limit: 2})
	if err := s.AddAuditEvent(ctx, auditEvent("e5", "login", "u1", t0.Add(3*time.Second))); err != nil {
		t.Fatal(err)
	}
	page2 := auditIDs(t, s, auth.AuditQuery{BeforeTime: t0.Add(time.Second), BeforeID: page1[1], Limit: 10})
	if got := fmt.Sprint(page1, page2); got != "[e4 e3] [e2 e1 e0]" {
		t.Fatalf("pages: %s", got)
	}
}

func testPurgeAudit(t *testing.T, s Store) {
	now := t0.Add(100 * 24 * time.Hour)
	keep := 90 * 24 * time.Hour
	for i := range 5 {
		if err := s.AddAuditEvent(ctx, auditEvent(fmt.Sprintf("old%d", i), "login", "u1", now.Add(-keep-time.Duration(i+1)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAuditEvent(ctx, auditEvent("new", "login", "u1", now.Add(-keep+time.Minute))); err != nil {
		t.Fatal(err)
	}
	// No retention keeps everything.
	if _, err := s.Purge(ctx, now, 100, 0); err != nil {
		t.Fatal(err)
	}
	if got := len(auditIDs(t, s, auth.AuditQuery{Limit: 10})); got != 6 {
		t.Fatalf("purge without retention left %d, want 6", got)
	}
	// In batches: two at a time.
	n, err := s.Purge(ctx, now, 2, keep)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(auditIDs(t, s, auth.AuditQuery{Limit: 10})) != 4 {
		t.Fatalf("one batch deleted %d", n)
	}
	for range 3 {
		if _, err := s.Purge(ctx, now, 2, keep); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(auditIDs(t, s, auth.AuditQuery{Limit: 10})); got != "[new]" {
		t.Fatalf("after the purge: %s", got)
	}
}
