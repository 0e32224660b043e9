package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// The store operations of an account as its owner sees it (issue 15): the profile, its update
// and deletion, account changes, the list of sign-ins, and codes of every purpose.

// signIn stores a sign-in of userID made at created from ip with agent, whose first refresh
// token expires at expires.
func signIn(t *testing.T, s Store, id, userID string, created, expires time.Time, ip, agent string) auth.RefreshToken {
	t.Helper()
	first := auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: userID, KeyID: "k", IssuedAt: created, ExpiresAt: expires}
	sess := auth.Session{ID: id, UserID: userID, CreatedAt: created, AMR: []string{"pwd"}, IP: ip, UserAgent: agent}
	if err := s.CreateSession(ctx, sess, first); err != nil {
		t.Fatal(err)
	}
	return first
}

// queued claims every email due at now and returns their payloads, sorted.
func queued(t *testing.T, s Store, now time.Time) []string {
	t.Helper()
	items, err := s.ClaimOutbox(ctx, now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, string(it.Payload))
	}
	sort.Strings(got)
	return got
}

// mailAbout is an email about the account userID, its payload naming it.
func mailAbout(userID, payload string) *auth.Outgoing {
	return &auth.Outgoing{Payload: []byte(payload), CreatedAt: t0, UserID: userID}
}

// sameUser compares users field by field, times by the instant.
func sameUser(a, b auth.User) bool {
	ta, tb := a.DateJoined, b.DateJoined
	ca, cb := a.PasswordChangedAt, b.PasswordChangedAt
	a.DateJoined, b.DateJoined, a.PasswordChangedAt, b.PasswordChangedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ca.Equal(cb)
}

func purposeCode(id, purpose, emailKey, userID string, at time.Time) auth.Code {
	c := code(id, emailKey, userID, at)
	c.Purpose = purpose
	return c
}

func emailChangeCode(id, userID, newEmail string, at time.Time) auth.Code {
	c := purposeCode(id, auth.CodeEmailChange, auth.EmailKey(newEmail), userID, at)
	c.NewEmail = newEmail
	return c
}

func changeOf(userID string) auth.CodeOwner {
	return auth.CodeOwner{Purpose: auth.CodeEmailChange, UserID: userID}
}

func testProfile(t *testing.T, s Store) {
	u := user("u1", "Ann@x.io", "+442071838750")
	u.Address, u.EmailVerified, u.PasswordChangedAt = "1 Main St", true, t0.Add(time.Second)
	mustUser(t, s, u)
	p, err := s.Profile(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if !sameUser(p.User, u) {
		t.Fatalf("Profile user = %+v, want %+v", p.User, u)
	}
	if p.Social == nil || len(p.Social) != 0 {
		t.Fatalf("Profile of an account without links: social = %#v, want []", p.Social)
	}
	// Linked in an order that is not the sorted one, google twice (two subjects).
	for _, l := range []auth.SocialLink{
		{Provider: "google-oauth2", Subject: "g1", At: t0},
		{Provider: "github", Subject: "h1", At: t0.Add(time.Second)},
		{Provider: "google-oauth2", Subject: "g2", At: t0.Add(2 * time.Second)},
	} {
		must(t, s.LinkSocial(ctx, l, auth.AccountChange{UserID: "u1", At: t0}))
	}
	mustUser(t, s, user("u2", "b@x.io", ""))
	must(t, s.LinkSocial(ctx, auth.SocialLink{Provider: "apple", Subject: "other", At: t0}, auth.AccountChange{UserID: "u2", At: t0}))
	p, err = s.Profile(ctx, "u1")
	if err != nil || strings.Join(p.Social, " ") != "github google-oauth2" || p.ID != "u1" || p.Email != "Ann@x.io" {
		t.Fatalf("Profile with links = %+v, %v; want social [github google-oauth2]", p, err)
	}
	if _, err := s.Profile(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("Profile(unknown) = %v, want ErrNotFound", err)
	}
}

func testUpdateProfile(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", "+442071838750"))
	mustUser(t, s, user("u2", "b@x.io", "+442071838751"))
	first, address := "Ada", "2 High St"
	must(t, s.UpdateProfile(ctx, "u1", auth.ProfileUpdate{FirstName: &first, Address: &address}))
	u, err := s.UserByID(ctx, "u1")
	if err != nil || u.FirstName != "Ada" || u.LastName != "L" || u.Address != "2 High St" || u.Phone != "+442071838750" {
		t.Fatalf("after setting first name and address: %+v, %v; the rest unchanged", u, err)
	}
	blank, phone := "", "+442071838752"
	must(t, s.UpdateProfile(ctx, "u1", auth.ProfileUpdate{Address: &blank, Phone: &phone}))
	if u, err := s.UserByID(ctx, "u1"); err != nil || u.Address != "" || u.Phone != phone || u.FirstName != "Ada" {
		t.Fatalf("after clearing the address and a new phone: %+v, %v", u, err)
	}
	if taken, err := s.PhoneTaken(ctx, "+442071838750"); err != nil || taken {
		t.Fatalf("the phone given up is still taken: %v, %v", taken, err)
	}
	// Another account's phone: refused, and nothing of the update applied.
	last, theirs := "Lovelace", "+442071838751"
	if err := s.UpdateProfile(ctx, "u1", auth.ProfileUpdate{LastName: &last, Phone: &theirs}); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Fatalf("UpdateProfile to a taken phone = %v, want ErrPhoneTaken", err)
	}
	if u, err := s.UserByID(ctx, "u1"); err != nil || u.LastName != "L" || u.Phone != phone {
		t.Fatalf("a refused update changed the account: %+v, %v", u, err)
	}
	if u, err := s.UserByID(ctx, "u2"); err != nil || u.Phone != theirs {
		t.Fatalf("the phone's owner after a refused update: %+v, %v", u, err)
	}
	// Its own phone again is no conflict.
	must(t, s.UpdateProfile(ctx, "u1", auth.ProfileUpdate{Phone: &phone}))
	if err := s.UpdateProfile(ctx, "nope", auth.ProfileUpdate{FirstName: &first}); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UpdateProfile(unknown) = %v, want ErrNotFound", err)
	}
}

// Two accounts asking for one phone number at once: exactly one gets it, the other is told it
// is taken.
func testUpdateProfileRace(t *testing.T, s Store) {
	for round := range 10 {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		mustUser(t, s, user(a, a+"@x.io", ""))
		mustUser(t, s, user(b, b+"@x.io", ""))
		phone := fmt.Sprintf("+4420718388%02d", round)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, id := range []string{a, b} {
			wg.Go(func() { errs[i] = s.UpdateProfile(ctx, id, auth.ProfileUpdate{Phone: &phone}) })
		}
		wg.Wait()
		winner := a
		switch {
		case errs[0] == nil && errors.Is(errs[1], auth.ErrPhoneTaken):
		case errs[1] == nil && errors.Is(errs[0], auth.ErrPhoneTaken):
			winner = b
		default:
			t.Fatalf("round %d: racing updates returned %v and %v; want one nil, one ErrPhoneTaken", round, errs[0], errs[1])
		}
		for _, id := range []string{a, b} {
			u, err := s.UserByID(ctx, id)
			if err != nil || (u.Phone == phone) != (id == winner) {
				t.Fatalf("round %d: %s has phone %q (%v); the winner is %s", round, id, u.Phone, err, winner)
			}
		}
	}
}

func testDeleteUser(t *testing.T, s Store) {
	for _, id := range []string{"u1", "u2"} {
		email, phone := id+"@x.io", "+4420718387"+id[1:]+"0"
		mustUser(t, s, user(id, email, phone))
		sess := sessionOf(t, s, "s-"+id, id)
		next := sess
		next.JTI = "s-" + id + "-2"
		must(t, s.RotateRefresh(ctx, sess.JTI, next, t0))
		must(t, s.LinkSocial(ctx, auth.SocialLink{Provider: "google-oauth2", Subject: "sub-" + id, At: t0}, auth.AccountChange{UserID: id, At: t0}))
		reset := code("r-"+id, email, id, t0)
		out := mailAbout(id, "reset "+id)
		out.CodeID = reset.ID
		must(t, s.AddCode(ctx, reset, out, 0, t0))
		must(t, s.AddCode(ctx, emailChangeCode("e-"+id, id, "new-"+email, t0), nil, 0, t0))
		must(t, s.ChangeAccount(ctx, auth.AccountChange{UserID: id, At: t0, Mail: mailAbout(id, "notice "+id)}))
	}
	// Mail about no account (a decoy code's) stays.
	must(t, s.AddCode(ctx, code("decoy", "ghost@x.io", "", t0), &auth.Outgoing{Payload: []byte("decoy"), CreatedAt: t0}, 0, t0))

	must(t, s.DeleteUser(ctx, "u1"))
	if _, err := s.UserByID(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("deleted user read: %v", err)
	}
	for _, jti := range []string{"s-u1-1", "s-u1-2"} {
		if _, err := s.RefreshState(ctx, jti); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("refresh token %s of a deleted user: %v, want ErrNotFound", jti, err)
		}
	}
	if _, err := s.SessionStanding(ctx, "s-u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("sign-in of a deleted user: %v, want ErrNotFound", err)
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "sub-u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("social link of a deleted user: %v", err)
	}
	if links, err := s.SocialLinks(ctx, "u1"); err != nil || len(links) != 0 {
		t.Fatalf("social links of a deleted user: %+v, %v", links, err)
	}
	if _, err := s.ClaimCode(ctx, changeOf("u1"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("email change code of a deleted user: %v", err)
	}
	if got := queued(t, s, t0.Add(time.Minute)); strings.Join(got, ",") != "decoy,notice u2,reset u2" {
		t.Fatalf("mail left after the deletion: %q; want the other account's and the decoy", got)
	}
	// The other account is whole.
	if u, err := s.UserByID(ctx, "u2"); err != nil || u.Phone != "+442071838720" {
		t.Fatalf("the other user: %+v, %v", u, err)
	}
	if st, err := s.RefreshState(ctx, "s-u2-2"); err != nil || st.SessionRevoked {
		t.Fatalf("the other user's sign-in: %+v, %v", st, err)
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "sub-u2"); err != nil {
		t.Fatalf("the other user's link: %v", err)
	}
	if c, err := s.ClaimCode(ctx, resetOf("u2@x.io"), t0, 5); err != nil || c.ID != "r-u2" {
		t.Fatalf("the other user's reset code: %+v, %v", c, err)
	}
	if c, err := s.ClaimCode(ctx, changeOf("u2"), t0, 5); err != nil || c.ID != "e-u2" {
		t.Fatalf("the other user's email change code: %+v, %v", c, err)
	}
	// Its email and phone are free at once.
	if taken, err := s.PhoneTaken(ctx, "+442071838710"); err != nil || taken {
		t.Fatalf("a deleted user's phone is taken: %v, %v", taken, err)
	}
	mustUser(t, s, user("u3", "U1@x.io", "+442071838710"))
	if _, err := s.ClaimCode(ctx, resetOf("u1@x.io"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the new account of the address finds a code: %v", err)
	}
	if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("deleting a deleted user = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("DeleteUser(unknown) = %v, want ErrNotFound", err)
	}
}

func testChangeAccount(t *testing.T, s Store) {
	u := user("u1", "a@x.io", "")
	mustUser(t, s, u)
	mustUser(t, s, user("u2", "b@x.io", ""))
	old := session(t, s, "s1")
	theirs := sessionOf(t, s, "s2", "u2")
	must(t, s.AddCode(ctx, code("c1", "a@x.io", "u1", t0), nil, 0, t0))
	must(t, s.AddCode(ctx, code("c2", "b@x.io", "u2", t0), nil, 0, t0))
	at := t0.Add(time.Minute)
	newSession := func(id string) *auth.NewSession {
		return &auth.NewSession{
			Session: auth.Session{ID: id, UserID: "u1", CreatedAt: at, AMR: []string{"pwd"}, PasswordChangedAt: at},
			First:   auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: "u1", KeyID: "k", IssuedAt: at, ExpiresAt: at.Add(time.Hour)}}
	}
	change := func(ifChanged time.Time, email, sessionID string) auth.AccountChange {
		return auth.AccountChange{UserID: "u1", At: at, IfPasswordChangedAt: &ifChanged, SetPassword: true, PasswordHash: "new",
			SetEmail: email, VerifyEmail: true, RevokeSessions: true, CancelCodes: true, StartSession: newSession(sessionID),
			Mail: mailAbout("u1", "changed "+sessionID)}
	}
	unchanged := func(what string, newSessionID string) {
		t.Helper()
		if got, err := s.UserByID(ctx, "u1"); err != nil || !sameUser(got, u) {
			t.Fatalf("%s: user %+v, %v; want it unchanged", what, got, err)
		}
		if st, err := s.RefreshState(ctx, old.JTI); err != nil || st.SessionRevoked {
			t.Fatalf("%s: the old sign-in was revoked", what)
		}
		if _, err := s.RefreshState(ctx, newSessionID+"-1"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("%s: the new sign-in was stored: %v", what, err)
		}
		if c, err := s.ClaimCode(ctx, resetOf("a@x.io"), at, 99); err != nil || c.ID != "c1" {
			t.Fatalf("%s: the code was cancelled: %v", what, err)
		}
		if got := queued(t, s, at); len(got) != 0 {
			t.Fatalf("%s: mail queued: %q", what, got)
		}
	}

	// A stale reading of the credentials: nothing happens.
	if err := s.ChangeAccount(ctx, change(t0.Add(-time.Second), "", "stale")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a change from a stale reading = %v, want ErrConflict", err)
	}
	unchanged("stale reading", "stale")
	// A taken address, in any case, comes after the password in the change: the whole change is
	// undone.
	if err := s.ChangeAccount(ctx, change(u.PasswordChangedAt, "B@X.io", "taken")); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("a change to a taken email = %v, want ErrEmailTaken", err)
	}
	unchanged("taken email", "taken")
	// A disabled account: no change, even from a current reading.
	must(t, s.SetUserActive(ctx, "u1", false))
	if err := s.ChangeAccount(ctx, change(u.PasswordChangedAt, "", "off")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a change of a disabled account = %v, want ErrConflict", err)
	}
	must(t, s.SetUserActive(ctx, "u1", true))
	unchanged("disabled account", "off")

	must(t, s.ChangeAccount(ctx, change(u.PasswordChangedAt, "Ann@New.io", "s3")))
	got, err := s.UserByEmailKey(ctx, "ann@new.io")
	if err != nil || got.ID != "u1" || got.Email != "Ann@New.io" || got.PasswordHash != "new" || !got.PasswordChangedAt.Equal(at) || !got.EmailVerified {
		t.Fatalf("user after the change: %+v, %v", got, err)
	}
	if _, err := s.UserByEmailKey(ctx, "a@x.io"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the old address still finds the user: %v", err)
	}
	if st, err := s.RefreshState(ctx, old.JTI); err != nil || !st.SessionRevoked {
		t.Fatal("the old sign-in survives the change")
	}
	st, err := s.RefreshState(ctx, "s3-1")
	if err != nil || st.SessionRevoked || !st.UserActive || !st.PasswordChangedAt.Equal(at) || st.Token.SessionID != "s3" {
		t.Fatalf("the sign-in the change started: %+v, %v; want it live", st, err)
	}
	if ss, err := s.SessionStanding(ctx, "s3"); err != nil || ss.Revoked || ss.UserID != "u1" {
		t.Fatalf("standing of the sign-in the change started: %+v, %v", ss, err)
	}
	if _, err := s.ClaimCode(ctx, resetOf("a@x.io"), at, 99); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a cancelled code is claimed: %v", err)
	}
	if got := queued(t, s, at); strings.Join(got, ",") != "changed s3" {
		t.Fatalf("mail queued by the change: %q", got)
	}
	// The other account is untouched, and the old address is free.
	if st, err := s.RefreshState(ctx, theirs.JTI); err != nil || st.SessionRevoked {
		t.Fatal("the change revoked another account's sign-in")
	}
	if c, err := s.ClaimCode(ctx, resetOf("b@x.io"), at, 99); err != nil || c.ID != "c2" {
		t.Fatalf("the change cancelled another account's code: %v", err)
	}
	mustUser(t, s, user("u3", "A@x.io", ""))
	// The reading the change moved is stale now.
	if err := s.ChangeAccount(ctx, change(u.PasswordChangedAt, "", "s4")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a second change from the first reading = %v, want ErrConflict", err)
	}
}

// The live sign-ins of an account: neither revoked nor past their newest token, newest first.
func testUserSessions(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	mustUser(t, s, user("u2", "b@x.io", ""))
	if list, err := s.UserSessions(ctx, "u1", t0); err != nil || len(list) != 0 {
		t.Fatalf("sign-ins of an account without any: %+v, %v", list, err)
	}
	agent := strings.Repeat("é", auth.MaxUserAgentLength)
	a := signIn(t, s, "a", "u1", t0, t0.Add(time.Hour), "2001:db8::1", agent)
	signIn(t, s, "b", "u1", t0.Add(time.Minute), t0.Add(2*time.Hour), "192.0.2.7", "curl/8")
	signIn(t, s, "c", "u1", t0.Add(2*time.Minute), t0.Add(2*time.Hour), "192.0.2.8", "revoked")
	signIn(t, s, "d", "u1", t0.Add(3*time.Minute), t0.Add(30*time.Minute), "192.0.2.9", "expired")
	signIn(t, s, "e", "u2", t0.Add(4*time.Minute), t0.Add(2*time.Hour), "192.0.2.10", "theirs")
	must(t, s.RevokeSession(ctx, "c", t0.Add(5*time.Minute)))
	// a refreshed at t0+10m: its newest token lives to t0+3h, and it was last used then.
	next := a
	next.JTI, next.IssuedAt, next.ExpiresAt = "a-2", t0.Add(10*time.Minute), t0.Add(3*time.Hour)
	must(t, s.RotateRefresh(ctx, a.JTI, next, t0.Add(10*time.Minute)))

	list, err := s.UserSessions(ctx, "u1", t0.Add(40*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, si := range list {
		ids = append(ids, si.ID)
	}
	if strings.Join(ids, " ") != "b a" {
		t.Fatalf("live sign-ins %v, want b a: newest first, without the revoked, the expired and another account's", ids)
	}
	b, a2 := list[0], list[1]
	if !b.CreatedAt.Equal(t0.Add(time.Minute)) || !b.LastUsedAt.IsZero() || !b.ExpiresAt.Equal(t0.Add(2*time.Hour)) ||
		b.IP != "192.0.2.7" || b.UserAgent != "curl/8" || !slices.Equal(b.AMR, []string{"pwd"}) || b.Current {
		t.Fatalf("a sign-in never refreshed: %+v", b)
	}
	if !a2.CreatedAt.Equal(t0) || !a2.LastUsedAt.Equal(t0.Add(10*time.Minute)) || !a2.ExpiresAt.Equal(t0.Add(3*time.Hour)) ||
		a2.IP != "2001:db8::1" || a2.UserAgent != agent {
		t.Fatalf("a refreshed sign-in: %+v; want last used t0+10m, expiring t0+3h, its address and agent kept", a2)
	}
	// At its newest token's expiry a sign-in is over.
	list, err = s.UserSessions(ctx, "u1", t0.Add(2*time.Hour))
	if err != nil || len(list) != 1 || list[0].ID != "a" {
		t.Fatalf("sign-ins at t0+2h: %+v, %v; want only a", list, err)
	}
	if list, err := s.UserSessions(ctx, "u1", t0.Add(3*time.Hour)); err != nil || len(list) != 0 {
		t.Fatalf("sign-ins at t0+3h: %+v, %v; want none", list, err)
	}
}

func testRevokeUserSession(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	mustUser(t, s, user("u2", "b@x.io", ""))
	a := signIn(t, s, "a", "u1", t0, t0.Add(time.Hour), "", "")
	b := signIn(t, s, "b", "u1", t0, t0.Add(time.Hour), "", "")
	signIn(t, s, "gone", "u1", t0, t0.Add(time.Hour), "", "")
	signIn(t, s, "short", "u1", t0, t0.Add(time.Minute), "", "")
	theirs := signIn(t, s, "theirs", "u2", t0, t0.Add(time.Hour), "", "")
	must(t, s.RevokeSession(ctx, "gone", t0))
	now := t0.Add(2 * time.Minute)
	for _, id := range []string{"theirs", "gone", "short", "nope"} {
		if err := s.RevokeUserSession(ctx, "u1", id, now); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("RevokeUserSession(%s) = %v, want ErrNotFound", id, err)
		}
	}
	if st, err := s.RefreshState(ctx, theirs.JTI); err != nil || st.SessionRevoked {
		t.Fatal("another account's sign-in was revoked")
	}
	must(t, s.RevokeUserSession(ctx, "u1", "a", now))
	if st, err := s.RefreshState(ctx, a.JTI); err != nil || !st.SessionRevoked {
		t.Fatal("the sign-in ended is not revoked")
	}
	if st, err := s.RefreshState(ctx, b.JTI); err != nil || st.SessionRevoked {
		t.Fatal("ending one sign-in revoked another")
	}
	if err := s.RevokeUserSession(ctx, "u1", "a", now); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ending a sign-in twice = %v, want ErrNotFound", err)
	}
	if list, err := s.UserSessions(ctx, "u1", now); err != nil || len(list) != 1 || list[0].ID != "b" {
		t.Fatalf("sign-ins left: %+v, %v; want b", list, err)
	}
}

// Codes of each purpose are found by their owner (the email key, or the user for an email
// change); a newer code replaces the older ones of its purpose and owner, and no other.
func testCodePurposes(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	mustUser(t, s, user("u2", "b@x.io", ""))
	mail := func(c auth.Code) *auth.Outgoing {
		return &auth.Outgoing{Payload: []byte(c.ID), CreatedAt: c.CreatedAt, CodeID: c.ID, UserID: c.UserID}
	}
	add := func(c auth.Code) {
		t.Helper()
		must(t, s.AddCode(ctx, c, mail(c), 0, t0))
	}
	claim := func(owner auth.CodeOwner, want string) auth.Code {
		t.Helper()
		c, err := s.ClaimCode(ctx, owner, t0.Add(time.Minute), 99)
		if err != nil || c.ID != want {
			t.Fatalf("ClaimCode(%+v) = %+v, %v; want %s", owner, c, err, want)
		}
		return c
	}
	verifyOf := auth.CodeOwner{Purpose: auth.CodeVerify, EmailKey: "a@x.io"}
	add(code("r1", "a@x.io", "u1", t0))
	add(purposeCode("v1", auth.CodeVerify, "a@x.io", "u1", t0))
	add(emailChangeCode("e1", "u1", "New@x.io", t0))
	add(emailChangeCode("e-other", "u2", "New@x.io", t0)) // another account asking for the same address
	claim(resetOf("a@x.io"), "r1")
	if c := claim(verifyOf, "v1"); c.Purpose != auth.CodeVerify || c.UserID != "u1" || c.EmailKey != "a@x.io" {
		t.Fatalf("verification code read back as %+v", c)
	}
	c := claim(changeOf("u1"), "e1")
	if c.Purpose != auth.CodeEmailChange || c.NewEmail != "New@x.io" || c.EmailKey != "new@x.io" || c.UserID != "u1" || !c.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("email change code read back as %+v", c)
	}
	claim(changeOf("u2"), "e-other")
	// An email change's code is found by its user, never by the address it went to.
	if c, err := s.ClaimCode(ctx, auth.CodeOwner{Purpose: auth.CodeEmailChange, EmailKey: "new@x.io"}, t0, 99); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("an email change code claimed by its address: %+v, %v", c, err)
	}
	if _, err := s.ClaimCode(ctx, auth.CodeOwner{Purpose: auth.CodeEmailChange, UserID: "u3"}, t0, 99); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("an email change code of a user without any: %v", err)
	}

	// Newer codes: each replaces the older of its own purpose and owner only.
	add(purposeCode("v2", auth.CodeVerify, "a@x.io", "u1", t0.Add(time.Second)))
	add(emailChangeCode("e2", "u1", "other@x.io", t0.Add(time.Second)))
	claim(verifyOf, "v2")
	claim(resetOf("a@x.io"), "r1")
	claim(changeOf("u1"), "e2")
	claim(changeOf("u2"), "e-other")
	if got := queued(t, s, t0.Add(time.Minute)); strings.Join(got, " ") != "e-other e2 r1 v2" {
		t.Fatalf("emails sent: %q; want the replaced codes' (v1, e1) stopped and no other", got)
	}
}

// The hourly cap counts codes of one purpose for one address, and an email change's also for
// its user.
func testCodeCapPurposes(t *testing.T, s Store) {
	const limit = 2
	var th *auth.ThrottledError
	add := func(c auth.Code) error { return s.AddCode(ctx, c, nil, limit, c.CreatedAt.Add(-time.Hour)) }
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for i := range limit {
		must(t, add(purposeCode(fmt.Sprint("r", i), auth.CodeReset, "a@x.io", "u1", at(i))))
	}
	if err := add(purposeCode("r-over", auth.CodeReset, "a@x.io", "u1", at(10))); !errors.As(err, &th) || th.RetryAfter != 50*time.Minute {
		t.Fatalf("a reset code over the cap = %v, want throttled for 50m", err)
	}
	// Another purpose for the address, and the same purpose for another address, have caps of
	// their own.
	must(t, add(purposeCode("v0", auth.CodeVerify, "a@x.io", "u1", at(10))))
	must(t, add(purposeCode("r-b", auth.CodeReset, "b@x.io", "u2", at(10))))

	// Email changes of one user, each to another address: capped by the user.
	for i := range limit {
		must(t, add(emailChangeCode(fmt.Sprint("e", i), "u1", fmt.Sprintf("n%d@x.io", i), at(i))))
	}
	if err := add(emailChangeCode("e-over", "u1", "n9@x.io", at(20))); !errors.As(err, &th) || th.RetryAfter != 40*time.Minute {
		t.Fatalf("an email change code over its user's cap = %v, want throttled for 40m", err)
	}
	if c, err := s.ClaimCode(ctx, changeOf("u1"), at(5), 99); err != nil || c.ID != "e1" {
		t.Fatalf("the newest email change code is %+v, %v; want e1: the throttled one was not stored", c, err)
	}
	// Email changes of many users to one address: capped by the address.
	for i := range limit {
		must(t, add(emailChangeCode(fmt.Sprint("s", i), fmt.Sprint("w", i), "Same@x.io", at(i))))
	}
	if err := add(emailChangeCode("s-over", "w9", "same@x.io", at(30))); !errors.As(err, &th) || th.RetryAfter != 30*time.Minute {
		t.Fatalf("an email change code over its address's cap = %v, want throttled for 30m", err)
	}
	if _, err := s.ClaimCode(ctx, changeOf("w9"), at(30), 99); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a throttled code was stored: %v", err)
	}
	// An email change to an address does not use up its resets (another purpose).
	must(t, add(purposeCode("r-same", auth.CodeReset, "same@x.io", "", at(30))))
	// After the hour, the user may ask again.
	must(t, add(emailChangeCode("e-later", "u1", "n9@x.io", at(61))))
}
