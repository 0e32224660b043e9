package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// importStore is the store's import side, which the legacy tests fill as the importer would.
func importStore(t *testing.T, s Store) auth.ImportStore {
	t.Helper()
	is, ok := s.(auth.ImportStore)
	if !ok {
		t.Fatal("the store cannot import")
	}
	return is
}

func mustImport(t *testing.T, s Store, u auth.User, legacyID string) {
	t.Helper()
	out, err := importStore(t, s).ImportUsers(ctx, []auth.User{u}, []string{legacyID}, false)
	if err != nil || !out[0].Added {
		t.Fatalf("import %s: %+v, %v", legacyID, out, err)
	}
}

func legacySession(id, userID string, at time.Time) (auth.Session, auth.RefreshToken) {
	return auth.Session{ID: id, UserID: userID, CreatedAt: at, AMR: []string{"pwd"}},
		auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: userID, KeyID: "k", IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
}

func testLegacyTokens(t *testing.T, s Store) {
	mustImport(t, s, user("u1", "a@x.io", ""), "42")
	if u, err := s.UserByLegacyID(ctx, "42"); err != nil || u.ID != "u1" {
		t.Fatalf("UserByLegacyID(42) = %+v, %v", u, err)
	}
	if _, err := s.UserByLegacyID(ctx, "43"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UserByLegacyID(unknown) = %v, want ErrNotFound", err)
	}
	must(t, importStore(t, s).ImportTokens(ctx, []auth.ImportedToken{
		{OutstandingPK: "1", JTI: "recorded", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour)},
		{OutstandingPK: "2", JTI: "blacklisted", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour)},
	}, []auth.ImportedBlacklisting{{OutstandingPK: "2", At: t0}}, false))

	// A token the dump never recorded is fine: the zero state.
	if st, err := s.LegacyRefreshState(ctx, "unrecorded"); err != nil || st != (auth.LegacyRefreshState{}) {
		t.Fatalf("unrecorded state %+v, %v", st, err)
	}
	if st, err := s.LegacyRefreshState(ctx, "recorded"); err != nil || !st.Recorded || st.LegacyUserID != "42" || !st.UsedAt.IsZero() || st.Blacklisted {
		t.Fatalf("recorded state %+v, %v", st, err)
	}
	if st, err := s.LegacyRefreshState(ctx, "blacklisted"); err != nil || !st.Blacklisted {
		t.Fatalf("blacklisted state %+v, %v", st, err)
	}

	for _, jti := range []string{"recorded", "unrecorded"} {
		sess, first := legacySession("s-"+jti, "u1", t0)
		use := auth.LegacyUse{JTI: jti, LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}
		must(t, s.UseLegacyRefresh(ctx, use, sess, first))
		st, err := s.LegacyRefreshState(ctx, jti)
		if err != nil || !st.UsedAt.Equal(t0) || st.SessionID != sess.ID || st.Successor == nil || *st.Successor != first || st.SuccessorUsed || st.SessionRevoked {
			t.Fatalf("%s after use: %+v, %v", jti, st, err)
		}
		if rs, err := s.RefreshState(ctx, first.JTI); err != nil || rs.SessionRevoked || rs.Token != first {
			t.Fatalf("%s: the sign-in's first token %+v, %v", jti, rs, err)
		}
		again, next := legacySession("s-again-"+jti, "u1", t0)
		if err := s.UseLegacyRefresh(ctx, use, again, next); !errors.Is(err, auth.ErrConflict) {
			t.Fatalf("%s used twice: %v, want ErrConflict", jti, err)
		}
		if _, err := s.RefreshState(ctx, next.JTI); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("%s: the losing use left a sign-in: %v", jti, err)
		}
		if err := s.RevokeLegacyRefresh(ctx, use); !errors.Is(err, auth.ErrConflict) {
			t.Fatalf("%s revoked after use: %v, want ErrConflict", jti, err)
		}
		// The successor's use and the sign-in's end show.
		succ := first
		succ.JTI = first.JTI + "-next"
		must(t, s.RotateRefresh(ctx, first.JTI, succ, t0.Add(time.Second)))
		must(t, s.RevokeSession(ctx, sess.ID, t0.Add(time.Second)))
		if st, err := s.LegacyRefreshState(ctx, jti); err != nil || !st.SuccessorUsed || !st.SessionRevoked {
			t.Fatalf("%s after rotation and revocation: %+v, %v", jti, st, err)
		}
	}

	// The original's blacklist holds.
	sess, first := legacySession("s-bl", "u1", t0)
	bl := auth.LegacyUse{JTI: "blacklisted", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}
	if err := s.UseLegacyRefresh(ctx, bl, sess, first); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("blacklisted token used: %v, want ErrConflict", err)
	}
	if err := s.RevokeLegacyRefresh(ctx, bl); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("blacklisted token revoked: %v, want ErrConflict", err)
	}
	// A recorded token is another user's to use.
	mustImport(t, s, user("u2", "b@x.io", ""), "7")
	sess, first = legacySession("s-other", "u2", t0)
	if err := s.UseLegacyRefresh(ctx, auth.LegacyUse{JTI: "recorded", LegacyUserID: "7", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}, sess, first); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("token used for another user: %v, want ErrConflict", err)
	}

	// A logout uses it up with no sign-in.
	out := auth.LegacyUse{JTI: "logged-out", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}
	must(t, s.RevokeLegacyRefresh(ctx, out))
	if st, err := s.LegacyRefreshState(ctx, "logged-out"); err != nil || st.UsedAt.IsZero() || st.SessionID != "" || st.Successor != nil {
		t.Fatalf("after logout %+v, %v", st, err)
	}
	sess, first = legacySession("s-late", "u1", t0)
	if err := s.UseLegacyRefresh(ctx, out, sess, first); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("used after logout: %v, want ErrConflict", err)
	}
}

// testLegacyNeedsCurrentCredentials: a legacy token becomes a sign-in only while the user is as
// read, and a refused sign-in leaves the token unused.
func testLegacyNeedsCurrentCredentials(t *testing.T, s Store) {
	mustImport(t, s, user("u1", "a@x.io", ""), "42")
	u, err := s.UserByLegacyID(ctx, "42")
	if err != nil {
		t.Fatal(err)
	}
	sess, first := legacySession("s1", "u1", t0)
	sess.PasswordChangedAt = u.PasswordChangedAt.Add(time.Second) // not what the user has
	use := auth.LegacyUse{JTI: "j", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}
	if err := s.UseLegacyRefresh(ctx, use, sess, first); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("sign-in with changed credentials: %v, want ErrConflict", err)
	}
	if st, err := s.LegacyRefreshState(ctx, "j"); err != nil || !st.UsedAt.IsZero() {
		t.Fatalf("a refused sign-in used the token: %+v, %v", st, err)
	}
	must(t, s.SetUserActive(ctx, "u1", false))
	sess.PasswordChangedAt = u.PasswordChangedAt
	if err := s.UseLegacyRefresh(ctx, use, sess, first); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("sign-in of a disabled user: %v, want ErrConflict", err)
	}
	must(t, s.SetUserActive(ctx, "u1", true))
	must(t, s.UseLegacyRefresh(ctx, use, sess, first))
}

// testLegacyRace: twenty uses of one legacy token at once, one winner and one sign-in.
func testLegacyRace(t *testing.T, s Store) {
	mustImport(t, s, user("u1", "a@x.io", ""), "42")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 20 {
		wg.Go(func() {
			sess, first := legacySession("s"+string(rune('a'+i)), "u1", t0)
			err := s.UseLegacyRefresh(ctx, auth.LegacyUse{JTI: "j", LegacyUserID: "42", ExpiresAt: t0.Add(time.Hour), UsedAt: t0}, sess, first)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners = append(winners, sess.ID)
			} else if !errors.Is(err, auth.ErrConflict) {
				t.Errorf("racing use: %v", err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d uses won, want 1", len(winners))
	}
	st, err := s.LegacyRefreshState(ctx, "j")
	if err != nil || st.SessionID != winners[0] {
		t.Fatalf("state %+v, %v; the winner was %s", st, err, winners[0])
	}
	list, err := s.UserSessions(ctx, "u1", t0)
	if err != nil || len(list) != 1 {
		t.Fatalf("%d sign-ins (%v), want 1", len(list), err)
	}
}
