package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// The admin API's store methods.

func testListUsers(t *testing.T, s Store) {
	// Ids are UUIDs in the service; any text orders the same way here.
	for i, name := range []string{"Zoe", "ann", "Bob", "Ánna", "per%cent"} {
		u := user(fmt.Sprintf("u%d", i), fmt.Sprintf("%s%d@Example.com", name, i), "")
		u.FirstName = name
		u.DateJoined = t0.Add(time.Duration(i/2) * time.Second) // pairs share a time: the id breaks the tie
		mustUser(t, s, u)
	}
	page := func(q auth.UserListQuery) []string {
		t.Helper()
		got, err := s.ListUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := fmt.Sprint(page(auth.UserListQuery{Limit: 10})); got != "[u0 u1 u2 u3 u4]" {
		t.Fatalf("every user: %s", got)
	}
	if got := fmt.Sprint(page(auth.UserListQuery{Limit: 2})); got != "[u0 u1]" {
		t.Fatalf("first page: %s", got)
	}
	// After u1 (joined at t0): u2 and u3 share t0+1s.
	if got := fmt.Sprint(page(auth.UserListQuery{Limit: 2, AfterJoined: t0, AfterID: "u1"})); got != "[u2 u3]" {
		t.Fatalf("second page: %s", got)
	}
	if got := fmt.Sprint(page(auth.UserListQuery{Limit: 2, AfterJoined: t0.Add(time.Second), AfterID: "u2"})); got != "[u3 u4]" {
		t.Fatalf("a page starting between equal times: %s", got)
	}
	for search, want := range map[string]string{
		"ann":         "[u1]", // Ánna's first letter is not an a
		"example.com": "[u0 u1 u2 u3 u4]",
		"bob2@":       "[u2]",
		"zoe l":       "[u0]", // first and last name
		"%":           "[u4]", // a wildcard is a character like any other
		"_":           "[]",
		"nobody":      "[]",
	} {
		if got := fmt.Sprint(page(auth.UserListQuery{Limit: 10, Search: search})); got != want {
			t.Errorf("search %q: %s, want %s", search, got, want)
		}
	}
	r, err := s.UserRecord(ctx, "u1")
	if err != nil || r.Email != "ann1@Example.com" || !r.LastLogin.IsZero() || r.Social == nil {
		t.Fatalf("UserRecord = %+v, %v", r, err)
	}
	sessionOf(t, s, "s1", "u1")
	if r, err = s.UserRecord(ctx, "u1"); err != nil || !r.LastLogin.Equal(t0) {
		t.Fatalf("last login after a sign-in: %v, %v", r.LastLogin, err)
	}
	if _, err := s.UserRecord(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UserRecord(unknown) = %v", err)
	}
}

func testUpdateUser(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", "+442071838750"))
	mustUser(t, s, user("u2", "b@x.io", "+442071838751"))
	must(t, s.AddCode(ctx, code("c1", "a@x.io", "u1", t0), nil, 0, t0))
	str := func(v string) *string { return &v }
	no, yes := false, true
	must(t, s.UpdateUser(ctx, "u1", auth.UserUpdate{Active: &no}, t0))
	if u, _ := s.UserByID(ctx, "u1"); u.Active || u.FirstName != "F" {
		t.Fatalf("after disabling: %+v", u)
	}
	must(t, s.UpdateUser(ctx, "u1", auth.UserUpdate{ProfileUpdate: auth.ProfileUpdate{FirstName: str("Ann")},
		Email: str("New@x.io"), Active: &yes, EmailVerified: &yes}, t0))
	u, err := s.UserByEmailKey(ctx, "new@x.io")
	if err != nil || u.ID != "u1" || u.FirstName != "Ann" || !u.Active || !u.EmailVerified || u.Phone != "+442071838750" {
		t.Fatalf("after update: %+v, %v", u, err)
	}
	// The code mailed to the old address is used up.
	if _, err := s.ClaimCode(ctx, auth.CodeOwner{Purpose: auth.CodeReset, EmailKey: "a@x.io"}, t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the old address's code after the change: %v", err)
	}
	if err := s.UpdateUser(ctx, "u1", auth.UserUpdate{Email: str("B@x.io")}, t0); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("taken email: %v", err)
	}
	if err := s.UpdateUser(ctx, "u1", auth.UserUpdate{ProfileUpdate: auth.ProfileUpdate{Phone: str("+442071838751")}}, t0); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Fatalf("taken phone: %v", err)
	}
	if err := s.UpdateUser(ctx, "ghost", auth.UserUpdate{Active: &no}, t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func testRetireKeys(t *testing.T, s Store) {
	must(t, s.AddSigningKey(ctx, auth.StoredKey{ID: "k1", Generation: 1, Material: []byte("m1"), CreatedAt: t0}))
	must(t, s.AddSigningKey(ctx, auth.StoredKey{ID: "k2", Generation: 2, Material: []byte("m2"), CreatedAt: t0}))
	must(t, s.AddRefreshKey(ctx, auth.StoredKey{ID: "r1", Generation: 1, Material: []byte("s1"), CreatedAt: t0}))
	must(t, s.RetireSigningKey(ctx, "k1", t0.Add(time.Minute)))
	if err := s.RetireSigningKey(ctx, "k1", t0.Add(2*time.Minute)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("retiring twice: %v", err)
	}
	if err := s.RetireSigningKey(ctx, "r1", t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("retiring a refresh key as a signing key: %v", err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" || !keys[0].RetiredAt.IsZero() || !keys[1].RetiredAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("signing keys after retiring k1: %+v, %v", keys, err)
	}
	must(t, s.RetireRefreshKey(ctx, "r1", t0))
	if keys, _ := s.RefreshKeys(ctx); len(keys) != 1 || !keys[0].RetiredAt.Equal(t0) {
		t.Fatalf("refresh keys: %+v", keys)
	}
}

func testOutboxBacklog(t *testing.T, s Store) {
	b, ok := s.(interface {
		OutboxBacklog(ctx context.Context) (int, time.Time, error)
	})
	if !ok {
		t.Skip("the store has no outbox gauges")
	}
	if n, oldest, err := b.OutboxBacklog(ctx); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: %d %v %v", n, oldest, err)
	}
	must(t, s.CreateUser(ctx, user("u1", "a@x.io", ""), nil, &auth.Outgoing{Payload: []byte("one"), CreatedAt: t0}))
	must(t, s.CreateUser(ctx, user("u2", "b@x.io", ""), nil, &auth.Outgoing{Payload: []byte("two"), CreatedAt: t0.Add(time.Minute)}))
	if n, oldest, err := b.OutboxBacklog(ctx); err != nil || n != 2 || !oldest.Equal(t0) {
		t.Fatalf("two queued: %d %v %v", n, oldest, err)
	}
	items, err := s.ClaimOutbox(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 1)
	if err != nil || len(items) != 1 {
		t.Fatalf("claim: %v %v", items, err)
	}
	must(t, s.MarkSent(ctx, items[0].ID, t0.Add(time.Hour)))
	if n, oldest, err := b.OutboxBacklog(ctx); err != nil || n != 1 || !oldest.Equal(t0.Add(time.Minute)) {
		t.Fatalf("one sent: %d %v %v", n, oldest, err)
	}
}
