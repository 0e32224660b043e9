// Package storetest is the contract every authd store must meet: run it against a new, empty
// store of each kind (storetest.Run(t, open)).
package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// Store is what the suite drives: the domain's store and the mail sender's outbox.
type Store interface {
	auth.Store
	auth.ImportStore
	// DB is the database, for the few checks no method of the store reads.
	DB() *sql.DB
	Seed(ctx context.Context, users, tokens int, progress io.Writer) error
	ClaimOutbox(ctx context.Context, now, leaseUntil time.Time, limit int) ([]auth.OutboxItem, error)
	MarkSent(ctx context.Context, id int64, now time.Time) error
	MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error
	MarkDead(ctx context.Context, id int64, now time.Time, reason string) error
	// AddHit, Hits and ClearHits are the counters a limiter over the store keeps: fixed windows
	// per key, shared by every instance on the database.
	AddHit(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error)
	Hits(ctx context.Context, key string, now time.Time) (int, time.Time, error)
	ClearHits(ctx context.Context, key string) error
	Unhit(ctx context.Context, key string, now time.Time) error
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

// Run runs the store contract; open returns a new, empty, migrated store.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := map[string]func(*testing.T, Store){
		"users":                             testUsers,
		"duplicates":                        testDuplicates,
		"rotation":                          testRotation,
		"rotation race":                     testRotationRace,
		"revocation":                        testRevocation,
		"reset codes":                       testResetCodes,
		"code cap":                          testCodeCap,
		"reset password":                    testResetPassword,
		"outbox":                            testOutbox,
		"outbox order":                      testOutboxOrder,
		"keys and secret":                   testKeysAndSecrets,
		"purge":                             testPurge,
		"purge keeps live":                  testPurgeKeepsLiveSignIns,
		"social accounts":                   testSocial,
		"seed":                              testSeed,
		"session needs current credentials": testSessionNeedsCurrentCredentials,
		"replaced code mail":                testReplacedCodeMailIsNotSent,
		"refresh keys":                      testRefreshKeys,
		"replace key material":              testReplaceKeyMaterial,
		"limits":                            testLimits,
		"limits at once":                    testLimitsAtOnce,
		"purge limits":                      testPurgeLimits,
		"unhit":                             testUnhit,
		"profile":                           testProfile,
		"update profile":                    testUpdateProfile,
		"update profile race":               testUpdateProfileRace,
		"delete user":                       testDeleteUser,
		"change account":                    testChangeAccount,
		"user sessions":                     testUserSessions,
		"revoke user session":               testRevokeUserSession,
		"code purposes":                     testCodePurposes,
		"code cap purposes":                 testCodeCapPurposes,
		"totp":                              testTOTP,
		"recovery codes":                    testRecoveryCodes,
		"mfa challenges":                    testMFAChallenges,
		"purge mfa challenges":              testPurgeChallenges,
		"delete user removes two-factor":    testDeleteUserRemovesTwoFactor,
		"legacy tokens":                     testLegacyTokens,
		"legacy needs current credentials":  testLegacyNeedsCurrentCredentials,
		"legacy race":                       testLegacyRace,
		"import users":                      testImportUsers,
		"import skips":                      testImportSkips,
		"import dry run":                    testImportDryRun,
		"import social":                     testImportSocial,
		"import tokens":                     testImportTokens,
		"rekey social":                      testRekeySocial,
		"import leaves native accounts":     testImportLeavesNativeAccounts,
		// The admin API (admin.go).
		"list users":     testListUsers,
		"update user":    testUpdateUser,
		"retire keys":    testRetireKeys,
		"outbox backlog": testOutboxBacklog,
		// The audit log (audit.go).
		"audit with change": testAuditWithChange,
		"audit list":        testAuditList,
		"purge audit":       testPurgeAudit,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

var ctx = context.Background()

func user(id, email, phone string) auth.User {
	return auth.User{ID: id, FirstName: "F", LastName: "L", Email: email, Phone: phone, Active: true, DateJoined: t0, PasswordHash: "$argon2id$x"}
}

func mustUser(t *testing.T, s Store, u auth.User) {
	t.Helper()
	if err := s.CreateUser(ctx, u, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func testUsers(t *testing.T, s Store) {
	u := user("u1", "Ann@Example.com", "+442071838750")
	u.Address, u.EmailVerified = "1 Main St", true
	mustUser(t, s, u)
	got, err := s.UserByEmailKey(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "u1" || got.Email != "Ann@Example.com" || got.Address != "1 Main St" || !got.EmailVerified || !got.Active || !got.DateJoined.Equal(t0) {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.UserByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("UserByID(unknown) = %v", err)
	}
	if taken, err := s.PhoneTaken(ctx, "+442071838750"); err != nil || !taken {
		t.Fatal("phone not taken")
	}
	// Social accounts have no phone; many may exist.
	mustUser(t, s, user("u2", "b@example.com", ""))
	mustUser(t, s, user("u3", "c@example.com", ""))
	if err := s.ReplacePasswordHash(ctx, "u1", "stale", "new"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(ctx, "u1"); err != nil || got.PasswordHash != "$argon2id$x" {
		t.Fatal("a hash was replaced although it had changed meanwhile")
	}
	must(t, s.ReplacePasswordHash(ctx, "u1", "$argon2id$x", "new"))
	if got, err := s.UserByID(ctx, "u1"); err != nil || got.PasswordHash != "new" {
		t.Fatal("hash not replaced")
	}
	sessionOf(t, s, "su1", "u1")
	must(t, s.SetUserActive(ctx, "u1", false))
	if got, err := s.UserByID(ctx, "u1"); err != nil || got.Active {
		t.Fatalf("after disabling: %+v, %v", got, err)
	}
	if st, err := s.SessionStanding(ctx, "su1"); err != nil || st.UserActive {
		t.Fatalf("a disabled user's sign-in stands as %+v, %v", st, err)
	}
	must(t, s.SetUserActive(ctx, "u1", true))
	if got, _ := s.UserByID(ctx, "u1"); !got.Active {
		t.Fatal("not enabled again")
	}
	if err := s.SetUserActive(ctx, "nope", false); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("SetUserActive(unknown) = %v, want ErrNotFound", err)
	}
}

func testDuplicates(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", "+442071838750"))
	if err := s.CreateUser(ctx, user("u2", "A@X.io", "+442071838751"), nil, nil); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("duplicate email: %v", err)
	}
	if err := s.CreateUser(ctx, user("u3", "b@x.io", "+442071838750"), nil, nil); !errors.Is(err, auth.ErrPhoneTaken) {
		t.Fatalf("duplicate phone: %v", err)
	}
	// Twenty racing registrations of one email: exactly one row.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 20 {
		wg.Go(func() {
			email := "race@x.io"
			if i%2 == 1 {
				email = "RACE@x.io"
			}
			err := s.CreateUser(ctx, user("r"+string(rune('a'+i)), email, ""), nil, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case !errors.Is(err, auth.ErrEmailTaken):
				t.Errorf("racing insert: %v", err)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d racing registrations succeeded, want 1", created)
	}
}

func session(t *testing.T, s Store, id string) auth.RefreshToken { return sessionOf(t, s, id, "u1") }

func sessionOf(t *testing.T, s Store, id, userID string) auth.RefreshToken {
	t.Helper()
	first := auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: userID, KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, auth.Session{ID: id, UserID: userID, CreatedAt: t0}, first); err != nil {
		t.Fatal(err)
	}
	return first
}

func testRotation(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	first := session(t, s, "s1")
	st, err := s.RefreshState(ctx, first.JTI)
	if err != nil || !st.UsedAt.IsZero() || st.Successor != nil || st.SessionRevoked || !st.UserActive || st.Token != first {
		t.Fatalf("fresh state %+v, %v", st, err)
	}
	next := first
	next.JTI, next.IssuedAt = "s1-2", t0.Add(time.Minute)
	if err := s.RotateRefresh(ctx, first.JTI, next, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateRefresh(ctx, first.JTI, next, t0.Add(time.Minute)); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("second rotation of one token = %v, want ErrConflict", err)
	}
	st, err = s.RefreshState(ctx, first.JTI)
	must(t, err)
	if !st.UsedAt.Equal(t0.Add(time.Minute)) || st.Successor == nil || *st.Successor != next || st.SuccessorUsed {
		t.Fatalf("used state %+v", st)
	}
	if _, err := s.RefreshState(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown jti: %v", err)
	}
}

func testRotationRace(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	first := session(t, s, "s1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 20 {
		wg.Go(func() {
			next := first
			next.JTI = "next-" + string(rune('a'+i))
			err := s.RotateRefresh(ctx, first.JTI, next, t0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, auth.ErrConflict) {
				t.Errorf("racing rotation: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d rotations won, want 1", won)
	}
}

func testRevocation(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	first := session(t, s, "s1")
	other := session(t, s, "s2")
	if err := s.RevokeSession(ctx, "s1", t0); err != nil {
		t.Fatal(err)
	}
	if st, err := s.RefreshState(ctx, first.JTI); err != nil || !st.SessionRevoked {
		t.Fatal("session not revoked")
	}
	if st, err := s.RefreshState(ctx, other.JTI); err != nil || st.SessionRevoked {
		t.Fatal("the other session was revoked")
	}
	next := first
	next.JTI = "late"
	if err := s.RotateRefresh(ctx, first.JTI, next, t0); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("rotation in a revoked session = %v, want ErrConflict", err)
	}
}

// resetOf names the reset codes of an email key.
func resetOf(emailKey string) auth.CodeOwner {
	return auth.CodeOwner{Purpose: auth.CodeReset, EmailKey: emailKey}
}

func code(id, email, user string, at time.Time) auth.Code {
	return auth.Code{ID: id, Purpose: auth.CodeReset, EmailKey: email, UserID: user, Hash: []byte("hash-" + id), CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
}

func testResetCodes(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	if err := s.AddCode(ctx, code("c1", "a@x.io", "u1", t0), nil, 0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCode(ctx, code("c2", "a@x.io", "u1", t0), nil, 0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimCode(ctx, resetOf("a@x.io"), t0, 5)
	if err != nil || got.ID != "c2" || !bytes.Equal(got.Hash, []byte("hash-c2")) || got.UserID != "u1" {
		t.Fatalf("claim = %+v, %v; want the newest code c2", got, err)
	}
	for range 4 {
		if _, err := s.ClaimCode(ctx, resetOf("a@x.io"), t0, 5); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimCode(ctx, resetOf("a@x.io"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("sixth claim = %v, want ErrNotFound", err)
	}
	must(t, s.RefundCodeAttempt(ctx, "c2"))
	if _, err := s.ClaimCode(ctx, resetOf("a@x.io"), t0, 5); err != nil {
		t.Fatalf("claim after a refund: %v", err)
	}
	if _, err := s.ClaimCode(ctx, resetOf("a@x.io"), t0.Add(10*time.Minute), 99); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("expired claim = %v", err)
	}
	if _, err := s.ClaimCode(ctx, resetOf("b@x.io"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("claim for an email without codes = %v", err)
	}
}

func testCodeCap(t *testing.T, s Store) {
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.AddCode(ctx, code("c"+string(rune('a'+i)), "ghost@x.io", "", at), nil, 5, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(10 * time.Minute)
	var th *auth.ThrottledError
	if err := s.AddCode(ctx, code("c6", "ghost@x.io", "", at), nil, 5, at.Add(-time.Hour)); !errors.As(err, &th) || th.RetryAfter != 50*time.Minute {
		t.Fatalf("sixth code = %v, want throttled for 50m", err)
	}
	at = t0.Add(time.Hour + time.Second)
	if err := s.AddCode(ctx, code("c7", "ghost@x.io", "", at), nil, 5, at.Add(-time.Hour)); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
}

func testResetPassword(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	session(t, s, "s1")
	must(t, s.AddCode(ctx, code("c1", "a@x.io", "u1", t0), nil, 0, t0))
	mail := &auth.Outgoing{Payload: []byte("sealed"), CreatedAt: t0}
	now := t0.Add(time.Minute)
	must(t, s.CreateSocialUser(ctx, user("v1", "v@x.io", ""), auth.SocialLink{Provider: "google-oauth2", Subject: "sub-kept", EmailVerified: true, At: t0}))
	// u1's own identities: one its email was vouched for with, one it was not.
	must(t, s.LinkSocial(ctx, auth.SocialLink{Provider: "google-oauth2", Subject: "sub-proven", EmailVerified: true, At: t0}, auth.AccountChange{UserID: "u1", At: t0}))
	must(t, s.LinkSocial(ctx, auth.SocialLink{Provider: "google-oauth2", Subject: "sub-unproven", At: t0}, auth.AccountChange{UserID: "u1", At: t0}))
	change := auth.AccountChange{UserID: "u1", At: now, SetPassword: true, PasswordHash: "newhash", VerifyEmail: true,
		DropUnprovenSocial: true, RevokeSessions: true, Mail: mail}
	if err := s.UseCode(ctx, "c1", change); err != nil {
		t.Fatal(err)
	}
	change.PasswordHash = "other"
	if err := s.UseCode(ctx, "c1", change); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second use of a code = %v, want ErrNotFound", err)
	}
	u, err := s.UserByID(ctx, "u1")
	must(t, err)
	if u.PasswordHash != "newhash" || !u.EmailVerified || !u.PasswordChangedAt.Equal(now) {
		t.Fatalf("user after reset %+v", u)
	}
	if st, err := s.RefreshState(ctx, "s1-1"); err != nil || !st.SessionRevoked {
		t.Fatal("sessions survive a reset")
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "sub-unproven"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("an identity linked without a vouched-for email survives a reset: %v", err)
	}
	for _, sub := range []string{"sub-proven", "sub-kept"} {
		if _, err := s.UserBySocial(ctx, "google-oauth2", sub); err != nil {
			t.Fatalf("identity %s was dropped: %v", sub, err)
		}
	}
	if items, err := s.ClaimOutbox(ctx, now, now.Add(time.Minute), 10); err != nil || len(items) != 1 {
		t.Fatalf("%d emails queued with the reset, want 1", len(items))
	}
}

func testOutbox(t *testing.T, s Store) {
	for i := range 3 {
		must(t, s.AddCode(ctx, code("c"+string(rune('a'+i)), "a@x.io", "", t0), &auth.Outgoing{Payload: []byte{byte(i)}, CreatedAt: t0}, 0, t0))
	}
	items, err := s.ClaimOutbox(ctx, t0, t0.Add(time.Minute), 2)
	if err != nil || len(items) != 2 || items[0].Attempts != 1 {
		t.Fatalf("claim = %+v, %v", items, err)
	}
	// Leased rows are not claimed again until the lease ends.
	more, err := s.ClaimOutbox(ctx, t0, t0.Add(time.Minute), 10)
	must(t, err)
	if len(more) != 1 {
		t.Fatalf("second claim got %d, want the 1 unleased", len(more))
	}
	must(t, s.MarkSent(ctx, items[0].ID, t0))
	must(t, s.MarkRetry(ctx, items[1].ID, t0.Add(30*time.Second), "refused"))
	must(t, s.MarkDead(ctx, more[0].ID, t0, "gave up"))
	due, err := s.ClaimOutbox(ctx, t0.Add(10*time.Second), t0.Add(time.Minute), 10)
	must(t, err)
	if len(due) != 0 {
		t.Fatalf("claimed %d before the retry was due", len(due))
	}
	due, err = s.ClaimOutbox(ctx, t0.Add(31*time.Second), t0.Add(2*time.Minute), 10)
	must(t, err)
	if len(due) != 1 || due[0].ID != items[1].ID || due[0].Attempts != 2 {
		t.Fatalf("due = %+v", due)
	}
}

// Emails are claimed most overdue first: the due index's order, which spares a claim from
// sorting the whole backlog (see BenchmarkStore/ClaimOutbox).
func testOutboxOrder(t *testing.T, s Store) {
	queue := func(id string, at time.Time) {
		if err := s.AddCode(ctx, code(id, "a@x.io", "", at), &auth.Outgoing{Payload: []byte(id), CreatedAt: at}, 0, at); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(at time.Time) auth.OutboxItem {
		t.Helper()
		items, err := s.ClaimOutbox(ctx, at, at.Add(time.Minute), 1)
		if err != nil || len(items) != 1 {
			t.Fatalf("claimed %d, %v", len(items), err)
		}
		return items[0]
	}
	queue("a", t0)
	queue("b", t0.Add(time.Second))
	a := claim(t0.Add(2 * time.Second))
	if err := s.MarkRetry(ctx, a.ID, t0.Add(10*time.Second), "421 try later"); err != nil {
		t.Fatal(err)
	}
	queue("c", t0.Add(3*time.Second))
	var got []string
	for range 3 {
		item := claim(t0.Add(time.Minute))
		got = append(got, string(item.Payload))
		if err := s.MarkSent(ctx, item.ID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, " ") != "b c a" {
		t.Fatalf("claimed %v, want b c a: the retry of a is due last", got)
	}
}

// storedKey is a key as the Service hands it to the store: material the store keeps as opaque
// bytes (here longer than any raw seed, as sealed material is).
func storedKey(id string, generation int) auth.StoredKey {
	return auth.StoredKey{ID: id, Generation: generation, Material: []byte("sealed:v1:material of " + id + "\x00\xff"), CreatedAt: t0}
}

func testKeysAndSecrets(t *testing.T, s Store) {
	if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys of a new store: %v, %v", keys, err)
	}
	a, b := storedKey("a", 1), storedKey("b", 1)
	a.ActivatesAt = t0.Add(time.Minute)
	must(t, s.AddSigningKey(ctx, a))
	if err := s.AddSigningKey(ctx, b); err != nil {
		t.Fatalf("losing the race for generation 1 is not an error: %v", err)
	}
	must(t, s.AddSigningKey(ctx, storedKey("c", 2)))
	keys, err := s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].Generation != 2 || keys[1].ID != a.ID || !bytes.Equal(keys[1].Material, a.Material) ||
		!keys[1].CreatedAt.Equal(t0) || !keys[1].ActivatesAt.Equal(a.ActivatesAt) {
		t.Fatalf("keys = %+v", keys)
	}
	first, err := s.Secret(ctx, "x", []byte("one"))
	must(t, err)
	second, err := s.Secret(ctx, "x", []byte("two"))
	must(t, err)
	if string(first) != "one" || string(second) != "one" {
		t.Fatalf("secret = %q then %q, want the first kept", first, second)
	}
}

func testRefreshKeys(t *testing.T, s Store) {
	if keys, err := s.RefreshKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("refresh keys of a new store: %v, %v", keys, err)
	}
	a := storedKey("ra", 1)
	must(t, s.AddRefreshKey(ctx, a))
	must(t, s.AddRefreshKey(ctx, storedKey("rb", 1))) // lost the race for generation 1
	b := storedKey("rc", 2)
	b.ActivatesAt = t0.Add(time.Minute)
	must(t, s.AddRefreshKey(ctx, b))
	keys, err := s.RefreshKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != b.ID || !keys[0].ActivatesAt.Equal(b.ActivatesAt) ||
		keys[1].ID != a.ID || !bytes.Equal(keys[1].Material, a.Material) {
		t.Fatalf("refresh keys = %+v, %v", keys, err)
	}
}

// Key material is replaced (sealed in place) only while it still holds the bytes the caller read:
// of instances racing to seal one row, exactly one rewrites it.
func testReplaceKeyMaterial(t *testing.T, s Store) {
	plain := []byte("plain material")
	kinds := []struct {
		name    string
		add     func(id string) error
		replace func(id string, old, new []byte) error
		read    func(id string) []byte
	}{
		{"signing key", func(id string) error {
			k := storedKey(id, 1)
			k.Material = plain
			return s.AddSigningKey(ctx, k)
		}, func(id string, old, new []byte) error { return s.ReplaceSigningKey(ctx, id, old, new) }, func(id string) []byte {
			keys, err := s.SigningKeys(ctx)
			must(t, err)
			return keys[0].Material
		}},
		{"refresh key", func(id string) error {
			k := storedKey(id, 1)
			k.Material = plain
			return s.AddRefreshKey(ctx, k)
		}, func(id string, old, new []byte) error { return s.ReplaceRefreshKey(ctx, id, old, new) }, func(id string) []byte {
			keys, err := s.RefreshKeys(ctx)
			must(t, err)
			return keys[0].Material
		}},
		{"secret", func(id string) error {
			_, err := s.Secret(ctx, id, plain)
			return err
		}, func(id string, old, new []byte) error { return s.ReplaceSecret(ctx, id, old, new) }, func(id string) []byte {
			v, err := s.Secret(ctx, id, []byte("unused"))
			must(t, err)
			return v
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			must(t, k.add("k1"))
			if err := k.replace("k1", []byte("other bytes"), []byte("sealed:v1:x")); !errors.Is(err, auth.ErrConflict) {
				t.Fatalf("replace from bytes it does not hold = %v, want ErrConflict", err)
			}
			if err := k.replace("nope", plain, []byte("sealed:v1:x")); !errors.Is(err, auth.ErrConflict) {
				t.Fatalf("replace of a row that does not exist = %v, want ErrConflict", err)
			}
			if got := k.read("k1"); !bytes.Equal(got, plain) {
				t.Fatalf("material after refused replaces = %q, want %q", got, plain)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			won := map[string]bool{}
			for i := range 10 {
				wg.Go(func() {
					sealed := []byte(fmt.Sprintf("sealed:v1:%d\x00\xfe", i))
					err := k.replace("k1", plain, sealed)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						won[string(sealed)] = true
					} else if !errors.Is(err, auth.ErrConflict) {
						t.Errorf("racing replace: %v", err)
					}
				})
			}
			wg.Wait()
			if got := k.read("k1"); len(won) != 1 || !won[string(got)] {
				t.Fatalf("%d racing replaces won, material now %q; want exactly one, its bytes kept", len(won), got)
			}
		})
	}
}

func testPurge(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	session(t, s, "old")
	live := session(t, s, "live")
	live.JTI, live.ExpiresAt = "live-2", t0.Add(48*time.Hour)
	must(t, s.RotateRefresh(ctx, "live-1", live, t0))
	must(t, s.AddCode(ctx, code("c1", "a@x.io", "u1", t0), nil, 0, t0))
	total := purgeAll(t, s, t0.Add(2*time.Hour), 1)
	if _, err := s.RefreshState(ctx, "old-1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("expired token kept: %v", err)
	}
	if _, err := s.RefreshState(ctx, "live-2"); err != nil {
		t.Fatalf("live token purged: %v", err)
	}
	if total < 3 {
		t.Fatalf("purged %d rows, want the expired tokens, their session and the old code", total)
	}
}

// purgeAll purges in batches of batch until nothing is left to purge at now, and returns how many
// rows went.
func purgeAll(t *testing.T, s Store, now time.Time, batch int) int {
	t.Helper()
	total := 0
	for {
		n, err := s.Purge(ctx, now, batch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// A sign-in outlives its newest token, however that token's expiry moved, so the purge never
// takes a sign-in whose token still works.
func testPurgeKeepsLiveSignIns(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	prev := session(t, s, "s1") // expires at t0+1h
	for i, expires := range []time.Duration{2 * time.Hour, 2*time.Hour + 30*time.Minute, 5 * time.Hour} {
		next := prev
		next.JTI, next.ExpiresAt = fmt.Sprintf("s1-%d", i+2), t0.Add(expires)
		if err := s.RotateRefresh(ctx, prev.JTI, next, t0); err != nil {
			t.Fatal(err)
		}
		prev = next
	}
	for _, at := range []time.Duration{3 * time.Hour, 4*time.Hour + 59*time.Minute} {
		purgeAll(t, s, t0.Add(at), 100)
		if st, err := s.RefreshState(ctx, prev.JTI); err != nil || st.SessionRevoked {
			t.Fatalf("newest token after a purge at t0+%v: %+v, %v", at, st, err)
		}
	}
}

func testSocial(t *testing.T, s Store) {
	g := user("g1", "g@x.io", "")
	g.PasswordHash, g.EmailVerified = "", true
	if err := s.CreateSocialUser(ctx, g, link("sub-1")); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserBySocial(ctx, "google-oauth2", "sub-1")
	if err != nil || got.ID != "g1" || got.Phone != "" || got.PasswordHash != "" {
		t.Fatalf("UserBySocial = %+v, %v", got, err)
	}
	if _, err := s.UserBySocial(ctx, "github", "sub-1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("another provider's subject: %v", err)
	}
	if err := s.CreateSocialUser(ctx, user("g2", "other@x.io", ""), link("sub-1")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a subject linked twice = %v, want ErrConflict", err)
	}
	if err := s.CreateSocialUser(ctx, user("g3", "G@x.io", ""), link("sub-3")); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("a taken email = %v, want ErrEmailTaken", err)
	}
	if _, err := s.UserByID(ctx, "g2"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatal("a user was left behind by a failed social insert")
	}

	mustUser(t, s, user("p1", "p@x.io", "+442071838750"))
	live := sessionOf(t, s, "sp", "p1")
	if err := s.LinkSocial(ctx, link("sub-p"), auth.AccountChange{UserID: "p1", At: t0, VerifyEmail: true}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserBySocial(ctx, "google-oauth2", "sub-p"); err != nil || u.ID != "p1" || !u.EmailVerified || u.PasswordHash == "" {
		t.Fatalf("linked user %+v: want verified, password kept", u)
	}
	mustUser(t, s, user("p2", "q@x.io", "+442071838751"))
	squatter := sessionOf(t, s, "sq", "p2")
	drop := auth.AccountChange{UserID: "p2", At: t0.Add(time.Second), SetPassword: true, VerifyEmail: true, DropUnprovenSocial: true, RevokeSessions: true}
	if err := s.LinkSocial(ctx, link("sub-q"), drop); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserByID(ctx, "p2"); err != nil || u.PasswordHash != "" || !u.EmailVerified || !u.PasswordChangedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("user after a link that drops the password: %+v", u)
	}
	if st, err := s.RefreshState(ctx, squatter.JTI); err != nil || !st.SessionRevoked {
		t.Fatal("the sessions of a dropped password survive")
	}
	if st, err := s.RefreshState(ctx, live.JTI); err != nil || st.SessionRevoked {
		t.Fatal("a link revoked another user's session")
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "sub-q"); err != nil {
		t.Fatalf("the identity being linked was dropped with the unproven ones: %v", err)
	}
	must(t, s.LinkSocial(ctx, auth.SocialLink{Provider: "google-oauth2", Subject: "sub-q2", At: t0.Add(2 * time.Second)}, auth.AccountChange{UserID: "p2", At: t0}))
	links, err := s.SocialLinks(ctx, "p2")
	if err != nil || len(links) != 2 || links[0].Subject != "sub-q" || !links[0].EmailVerified || !links[0].At.Equal(t0) ||
		links[1].Subject != "sub-q2" || links[1].EmailVerified || links[1].Provider != "google-oauth2" {
		t.Fatalf("SocialLinks = %+v, %v", links, err)
	}
	if links, err := s.SocialLinks(ctx, "nobody"); err != nil || len(links) != 0 {
		t.Fatalf("SocialLinks of no user = %+v, %v", links, err)
	}
	if err := s.LinkSocial(ctx, link("sub-q"), auth.AccountChange{UserID: "p2", At: t0, SetPassword: true, PasswordHash: "x"}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("linking a linked subject = %v, want ErrConflict", err)
	}
	if u, err := s.UserByID(ctx, "p2"); err != nil || u.PasswordHash != "" {
		t.Fatal("a link that failed applied its change")
	}
}

// link is a Google identity whose email Google vouched for.
func link(subject string) auth.SocialLink {
	return auth.SocialLink{Provider: "google-oauth2", Subject: subject, EmailVerified: true, At: t0}
}

// A sign-in is stored only while its user is active and its credentials are those it checked.
func testSessionNeedsCurrentCredentials(t *testing.T, s Store) {
	u := user("u1", "a@x.io", "")
	mustUser(t, s, u)
	first := func(id string) auth.RefreshToken {
		return auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: "u1", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	if err := s.CreateSession(ctx, auth.Session{ID: "stale", UserID: "u1", CreatedAt: t0, PasswordChangedAt: t0.Add(-time.Second)}, first("stale")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a sign-in that checked other credentials = %v, want ErrConflict", err)
	}
	if _, err := s.RefreshState(ctx, "stale-1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a refused sign-in left its token: %v", err)
	}
	must(t, s.CreateSession(ctx, auth.Session{ID: "ok", UserID: "u1", CreatedAt: t0, AMR: []string{"pwd", "otp"}, PasswordChangedAt: u.PasswordChangedAt}, first("ok")))
	st, err := s.RefreshState(ctx, "ok-1")
	if err != nil || strings.Join(st.SessionAMR, " ") != "pwd otp" {
		t.Fatalf("amr of a stored sign-in: %+v, %v", st, err)
	}
	ss, err := s.SessionStanding(ctx, "ok")
	if err != nil || ss.UserID != "u1" || ss.Revoked || !ss.UserActive {
		t.Fatalf("standing of a live sign-in: %+v, %v", ss, err)
	}
	must(t, s.RevokeSession(ctx, "ok", t0))
	if ss, err := s.SessionStanding(ctx, "ok"); err != nil || !ss.Revoked {
		t.Fatalf("standing of a revoked sign-in: %+v, %v", ss, err)
	}
	if _, err := s.SessionStanding(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("standing of no sign-in = %v, want ErrNotFound", err)
	}
	inactive := user("u2", "b@x.io", "")
	inactive.Active = false
	mustUser(t, s, inactive)
	if err := s.CreateSession(ctx, auth.Session{ID: "off", UserID: "u2", CreatedAt: t0}, auth.RefreshToken{JTI: "off-1", SessionID: "off", UserID: "u2", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a sign-in of an inactive user = %v, want ErrConflict", err)
	}
}

// A newer code stops the unsent email of the one it replaces.
func testReplacedCodeMailIsNotSent(t *testing.T, s Store) {
	mail := func(codeID string) *auth.Outgoing {
		return &auth.Outgoing{Payload: []byte(codeID), CreatedAt: t0, CodeID: codeID}
	}
	must(t, s.AddCode(ctx, code("c1", "a@x.io", "", t0), mail("c1"), 0, t0))
	must(t, s.AddCode(ctx, code("o1", "other@x.io", "", t0), mail("o1"), 0, t0))
	must(t, s.AddCode(ctx, code("c2", "a@x.io", "", t0.Add(time.Second)), mail("c2"), 0, t0))
	items, err := s.ClaimOutbox(ctx, t0.Add(time.Minute), t0.Add(2*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, string(it.Payload))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "c2 o1" {
		t.Fatalf("emails sent: %v, want the newest code's and the other address's", got)
	}
}

func testSeed(t *testing.T, s Store) {
	if err := s.Seed(ctx, 300, 3000, nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByID(ctx, "seed-u7")
	if err != nil || u.Email != "seed7@seed.invalid" || !u.Active {
		t.Fatalf("seeded user %+v, %v", u, err)
	}
	st, err := s.RefreshState(ctx, "seed-t20")
	if err != nil || st.SessionRevoked || !st.UsedAt.IsZero() || st.Token.ExpiresAt.Before(time.Now()) {
		t.Fatalf("seeded token %+v, %v", st, err)
	}
	if st, err := s.RefreshState(ctx, "seed-t21"); err != nil || st.UsedAt.IsZero() {
		t.Fatal("seeded tokens are all unused; nine in ten should be used")
	}
}

// mustHit counts a hit for key at at and checks the window's count and end.
func mustHit(t *testing.T, s Store, key string, window time.Duration, at time.Time, wantHits int, wantEnds time.Time) {
	t.Helper()
	n, ends, err := s.AddHit(ctx, key, window, at)
	if err != nil || n != wantHits || !ends.Equal(wantEnds) {
		t.Fatalf("AddHit(%q) at t0+%v = %d, %v, %v; want %d, t0+%v", key, at.Sub(t0), n, ends.Sub(t0), err, wantHits, wantEnds.Sub(t0))
	}
}

func testLimits(t *testing.T, s Store) {
	const window = 15 * time.Minute
	key := "login-failures:ann@x.io"
	// The first hit opens a window; later ones count in it and leave its end alone.
	mustHit(t, s, key, window, t0, 1, t0.Add(window))
	mustHit(t, s, key, window, t0.Add(20*time.Second), 2, t0.Add(window))
	mustHit(t, s, key, window, t0.Add(window-time.Microsecond), 3, t0.Add(window))
	if n, ends, err := s.Hits(ctx, key, t0.Add(time.Minute)); err != nil || n != 3 || !ends.Equal(t0.Add(window)) {
		t.Fatalf("Hits = %d, t0+%v, %v; want 3, t0+%v", n, ends.Sub(t0), err, window)
	}
	mustHit(t, s, "login-failures:bob@x.io", window, t0.Add(time.Minute), 1, t0.Add(time.Minute+window))
	// At its end the window is over: a hit opens the next one.
	if n, ends, err := s.Hits(ctx, key, t0.Add(window)); err != nil || n != 0 || !ends.IsZero() {
		t.Fatalf("Hits when the window ended = %d, %v, %v; want 0 and no end", n, ends, err)
	}
	mustHit(t, s, key, window, t0.Add(window), 1, t0.Add(2*window))
	mustHit(t, s, key, window, t0.Add(window+time.Second), 2, t0.Add(2*window))
	// Clearing forgets the key alone.
	if err := s.ClearHits(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Hits(ctx, key, t0.Add(window+2*time.Second)); err != nil || n != 0 {
		t.Fatalf("Hits after ClearHits = %d, %v; want 0", n, err)
	}
	mustHit(t, s, key, window, t0.Add(window+3*time.Second), 1, t0.Add(2*window+3*time.Second))
	if n, _, err := s.Hits(ctx, "login-failures:bob@x.io", t0.Add(window)); err != nil || n != 1 {
		t.Fatalf("another key's hits after ClearHits: %d, want 1", n)
	}
	if err := s.ClearHits(ctx, "never-hit"); err != nil {
		t.Fatalf("ClearHits of an unknown key: %v", err)
	}
}

// Hits arriving at once are each counted, with one window: of 40, exactly 10 see a count within
// a limit of 10.
func testLimitsAtOnce(t *testing.T, s Store) {
	const window = time.Minute
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			n, ends, err := s.AddHit(ctx, "k", window, t0)
			if err != nil || !ends.Equal(t0.Add(window)) {
				t.Errorf("AddHit: %d, t0+%v, %v", n, ends.Sub(t0), err)
			}
			mu.Lock()
			seen[n]++
			mu.Unlock()
		})
	}
	wg.Wait()
	within := 0
	for n := 1; n <= 40; n++ {
		if seen[n] != 1 {
			t.Fatalf("counts returned to 40 hits at once: %v; want each of 1 to 40 once", seen)
		}
		if n <= 10 {
			within++
		}
	}
	if got, _, err := s.Hits(ctx, "k", t0.Add(time.Second)); err != nil || got != 40 || within != 10 {
		t.Fatalf("%d hits counted, %d within 10; want 40 and 10", got, within)
	}
}

// Windows that have ended are deleted in batches; open ones stay.
func testPurgeLimits(t *testing.T, s Store) {
	for i := range 3 {
		mustHit(t, s, fmt.Sprintf("ended%d", i), time.Minute, t0, 1, t0.Add(time.Minute))
	}
	mustHit(t, s, "open", time.Hour, t0, 1, t0.Add(time.Hour))
	mustHit(t, s, "open", time.Hour, t0.Add(time.Second), 2, t0.Add(time.Hour))
	if n := purgeAll(t, s, t0.Add(time.Minute), 1); n != 3 {
		t.Fatalf("purged %d rows, want the 3 ended windows", n)
	}
	if n, ends, err := s.Hits(ctx, "open", t0.Add(time.Minute)); err != nil || n != 2 || !ends.Equal(t0.Add(time.Hour)) {
		t.Fatalf("open window after the purge: %d, t0+%v, %v; want 2, t0+1h", n, ends.Sub(t0), err)
	}
	// A purged key starts afresh.
	mustHit(t, s, "ended0", time.Minute, t0.Add(2*time.Minute), 1, t0.Add(3*time.Minute))
}

// An unhit takes back one event of the open window, never below zero, and leaves its end alone;
// an ended window is not revived.
func testUnhit(t *testing.T, s Store) {
	const window = 15 * time.Minute
	key := "login-failures:unhit@x.io"
	mustHit(t, s, key, window, t0, 1, t0.Add(window))
	mustHit(t, s, key, window, t0, 2, t0.Add(window))
	for range 3 {
		if err := s.Unhit(ctx, key, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n, ends, err := s.Hits(ctx, key, t0.Add(time.Minute)); err != nil || n != 0 || !ends.Equal(t0.Add(window)) {
		t.Fatalf("after three unhits of two: %d, t0+%v, %v; want 0 and the same end", n, ends.Sub(t0), err)
	}
	mustHit(t, s, key, window, t0.Add(2*time.Minute), 1, t0.Add(window))
	if err := s.Unhit(ctx, key, t0.Add(window)); err != nil {
		t.Fatal(err)
	}
	mustHit(t, s, key, window, t0.Add(window), 1, t0.Add(2*window))
}
