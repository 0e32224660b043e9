package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

func hashes(prefix string, n int) [][]byte {
	hs := make([][]byte, n)
	for i := range hs {
		hs[i] = []byte(fmt.Sprintf("%s-%02d-................................", prefix, i))[:32]
	}
	return hs
}

// recoveryLeft is the count GET /auth/me/ shows.
func recoveryLeft(t *testing.T, s Store, userID string) int {
	t.Helper()
	p, err := s.Profile(ctx, userID)
	must(t, err)
	return p.RecoveryCodesLeft
}

// An enrolment is replaced while unconfirmed; once confirmed it stands, and a step is taken only
// if newer than the newest used.
func testTOTP(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	if _, err := s.TOTP(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("TOTP of a user without one = %v, want ErrNotFound", err)
	}
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("secret-a"), CreatedAt: t0}))
	got, err := s.TOTP(ctx, "u1")
	if err != nil || string(got.Secret) != "secret-a" || !got.CreatedAt.Equal(t0) || !got.ConfirmedAt.IsZero() || got.LastStep != 0 {
		t.Fatalf("enrolment = %+v, %v", got, err)
	}
	if u, _ := s.UserByID(ctx, "u1"); u.TOTPEnabled {
		t.Fatal("an unconfirmed enrolment turned two-factor on")
	}
	if err := s.UseTOTPStep(ctx, "u1", 5); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a step of an unconfirmed enrolment = %v, want ErrConflict", err)
	}
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("secret-b"), CreatedAt: t0.Add(time.Minute)}))
	if got, err := s.TOTP(ctx, "u1"); err != nil || string(got.Secret) != "secret-b" || !got.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("replaced enrolment = %+v, %v", got, err)
	}

	must(t, s.ConfirmTOTP(ctx, "u1", 100, hashes("r", 10), t0.Add(2*time.Minute)))
	got, err = s.TOTP(ctx, "u1")
	if err != nil || string(got.Secret) != "secret-b" || !got.ConfirmedAt.Equal(t0.Add(2*time.Minute)) || got.LastStep != 100 {
		t.Fatalf("confirmed = %+v, %v", got, err)
	}
	if u, err := s.UserByID(ctx, "u1"); err != nil || !u.TOTPEnabled {
		t.Fatalf("confirmed, the user reads %+v, %v", u, err)
	}
	if n := recoveryLeft(t, s, "u1"); n != 10 {
		t.Fatalf("%d recovery codes left, want 10", n)
	}
	if err := s.ConfirmTOTP(ctx, "u1", 101, hashes("x", 10), t0); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a second confirmation = %v, want ErrConflict", err)
	}
	if err := s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("secret-c"), CreatedAt: t0}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("an enrolment over a confirmed one = %v, want ErrConflict", err)
	}
	if got, _ := s.TOTP(ctx, "u1"); string(got.Secret) != "secret-b" || got.ConfirmedAt.IsZero() || got.LastStep != 100 {
		t.Fatalf("a refused enrolment changed the authenticator: %+v", got)
	}
	for _, old := range []int64{99, 100} {
		if err := s.UseTOTPStep(ctx, "u1", old); !errors.Is(err, auth.ErrConflict) {
			t.Fatalf("step %d after 100 = %v, want ErrConflict", old, err)
		}
	}
	must(t, s.UseTOTPStep(ctx, "u1", 102))
	if err := s.UseTOTPStep(ctx, "u1", 101); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("step 101 after 102 = %v, want ErrConflict", err)
	}
	if got, _ := s.TOTP(ctx, "u1"); got.LastStep != 102 {
		t.Fatalf("last step %d, want 102", got.LastStep)
	}
	if err := s.UseTOTPStep(ctx, "nobody", 500); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a step of no user = %v, want ErrConflict", err)
	}

	// A confirmation racing a used step: the step must be newer.
	mustUser(t, s, user("u2", "b@x.io", ""))
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u2", Secret: []byte("s2"), CreatedAt: t0}))
	if err := s.ConfirmTOTP(ctx, "u2", 0, hashes("y", 10), t0); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("confirming with a step not newer than the last = %v, want ErrConflict", err)
	}
	if n := recoveryLeft(t, s, "u2"); n != 0 {
		t.Fatalf("a refused confirmation stored %d recovery codes", n)
	}

	// Racing requests with one step: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 20 {
		wg.Go(func() {
			err := s.UseTOTPStep(ctx, "u1", 200)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, auth.ErrConflict) {
				t.Errorf("racing step: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 20 racing uses of one step won, want 1", won)
	}

	must(t, s.DeleteTOTP(ctx, "u1"))
	if _, err := s.TOTP(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("TOTP after DeleteTOTP = %v, want ErrNotFound", err)
	}
	if u, _ := s.UserByID(ctx, "u1"); u.TOTPEnabled {
		t.Fatal("two-factor on after DeleteTOTP")
	}
	if n := recoveryLeft(t, s, "u1"); n != 0 {
		t.Fatalf("%d recovery codes left after DeleteTOTP", n)
	}
	// Enrolling again starts from nothing.
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("secret-d"), CreatedAt: t0}))
	if got, err := s.TOTP(ctx, "u1"); err != nil || !got.ConfirmedAt.IsZero() || got.LastStep != 0 || string(got.Secret) != "secret-d" {
		t.Fatalf("a new enrolment after DeleteTOTP = %+v, %v", got, err)
	}
}

func testRecoveryCodes(t *testing.T, s Store) {
	mustUser(t, s, user("u1", "a@x.io", ""))
	mustUser(t, s, user("u2", "b@x.io", ""))
	first := hashes("r", 10)
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("s"), CreatedAt: t0}))
	must(t, s.ReplaceRecoveryCodes(ctx, "u1", first)) // stored, but not usable until confirmed
	if err := s.UseRecoveryCode(ctx, "u1", first[0], t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a recovery code of an unconfirmed enrolment = %v, want ErrNotFound", err)
	}
	must(t, s.ConfirmTOTP(ctx, "u1", 1, first, t0))
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u2", Secret: []byte("s"), CreatedAt: t0}))
	must(t, s.ConfirmTOTP(ctx, "u2", 1, hashes("other", 10), t0))

	must(t, s.UseRecoveryCode(ctx, "u1", first[0], t0))
	if err := s.UseRecoveryCode(ctx, "u1", first[0], t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a recovery code used twice = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", []byte("unknown"), t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("an unknown recovery code = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "u2", first[1], t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("another user's recovery code = %v, want ErrNotFound", err)
	}
	if a, b := recoveryLeft(t, s, "u1"), recoveryLeft(t, s, "u2"); a != 9 || b != 10 {
		t.Fatalf("recovery codes left %d and %d, want 9 and 10", a, b)
	}

	// Racing uses of one code: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 20 {
		wg.Go(func() {
			err := s.UseRecoveryCode(ctx, "u1", first[1], t0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("racing recovery code: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 20 racing uses of one recovery code won, want 1", won)
	}

	fresh := hashes("new", 10)
	must(t, s.ReplaceRecoveryCodes(ctx, "u1", fresh))
	if err := s.UseRecoveryCode(ctx, "u1", first[2], t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a replaced recovery code = %v, want ErrNotFound", err)
	}
	if n := recoveryLeft(t, s, "u1"); n != 10 {
		t.Fatalf("%d recovery codes left after the replacement, want 10", n)
	}
	must(t, s.UseRecoveryCode(ctx, "u1", fresh[9], t0))
	if n := recoveryLeft(t, s, "u2"); n != 10 {
		t.Fatalf("replacing u1's codes changed u2's: %d left", n)
	}
	must(t, s.DeleteTOTP(ctx, "u1"))
	if err := s.UseRecoveryCode(ctx, "u1", fresh[0], t0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a recovery code after DeleteTOTP = %v, want ErrNotFound", err)
	}
}

func challenge(hash, userID string, at time.Time, changed time.Time) auth.MFAChallenge {
	return auth.MFAChallenge{TokenHash: []byte(hash), UserID: userID, AMR: []string{"pwd"}, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute),
		PasswordChangedAt: changed}
}

func mfaSession(id, userID string, changed time.Time) (auth.Session, auth.RefreshToken) {
	return auth.Session{ID: id, UserID: userID, CreatedAt: t0, AMR: []string{"pwd", "otp", "mfa"}, PasswordChangedAt: changed},
		auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: userID, KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func testMFAChallenges(t *testing.T, s Store) {
	u := user("u1", "a@x.io", "")
	mustUser(t, s, u)
	ch := challenge("h1", "u1", t0, u.PasswordChangedAt)
	must(t, s.CreateMFAChallenge(ctx, ch))
	got, err := s.ClaimMFAChallenge(ctx, []byte("h1"), t0.Add(time.Second), 5)
	if err != nil || got.UserID != "u1" || strings.Join(got.AMR, " ") != "pwd" || !got.CreatedAt.Equal(t0) ||
		!got.ExpiresAt.Equal(t0.Add(5*time.Minute)) || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) || !bytes.Equal(got.TokenHash, []byte("h1")) {
		t.Fatalf("claimed %+v, %v", got, err)
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("nope"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("an unknown challenge = %v, want ErrNotFound", err)
	}
	// The attempt limit: five claims in all, then none.
	for i := 2; i <= 5; i++ {
		if _, err := s.ClaimMFAChallenge(ctx, []byte("h1"), t0, 5); err != nil {
			t.Fatalf("claim %d of 5: %v", i, err)
		}
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h1"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a sixth claim = %v, want ErrNotFound", err)
	}

	// Expiry.
	must(t, s.CreateMFAChallenge(ctx, challenge("h2", "u1", t0, u.PasswordChangedAt)))
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h2"), t0.Add(5*time.Minute), 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a claim at the expiry = %v, want ErrNotFound", err)
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h2"), t0.Add(5*time.Minute-time.Second), 5); err != nil {
		t.Fatalf("a claim before the expiry: %v", err)
	}

	// Finished once; then neither claimed nor finished again.
	must(t, s.CreateMFAChallenge(ctx, challenge("h3", "u1", t0, u.PasswordChangedAt)))
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h3"), t0, 5); err != nil {
		t.Fatal(err)
	}
	sess, first := mfaSession("s1", "u1", u.PasswordChangedAt)
	must(t, s.FinishMFAChallenge(ctx, []byte("h3"), t0, sess, first))
	if st, err := s.RefreshState(ctx, first.JTI); err != nil || strings.Join(st.SessionAMR, " ") != "pwd otp mfa" || st.SessionRevoked {
		t.Fatalf("the sign-in of a finished challenge: %+v, %v", st, err)
	}
	sess2, first2 := mfaSession("s2", "u1", u.PasswordChangedAt)
	if err := s.FinishMFAChallenge(ctx, []byte("h3"), t0, sess2, first2); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("a challenge finished twice = %v, want ErrConflict", err)
	}
	if _, err := s.RefreshState(ctx, first2.JTI); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a refused finish stored its sign-in: %v", err)
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h3"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a claim of a used challenge = %v, want ErrNotFound", err)
	}

	// Credentials that moved since the password was checked: ErrConflict, and the challenge is
	// not used up by the refusal.
	must(t, s.CreateMFAChallenge(ctx, challenge("h4", "u1", t0, u.PasswordChangedAt)))
	stale, staleFirst := mfaSession("s3", "u1", u.PasswordChangedAt.Add(-time.Second))
	if err := s.FinishMFAChallenge(ctx, []byte("h4"), t0, stale, staleFirst); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("finishing with other credentials = %v, want ErrConflict", err)
	}
	if _, err := s.RefreshState(ctx, staleFirst.JTI); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a refused finish stored its sign-in: %v", err)
	}

	// Racing finishes of one challenge: one wins.
	must(t, s.CreateMFAChallenge(ctx, challenge("h5", "u1", t0, u.PasswordChangedAt)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 20 {
		wg.Go(func() {
			sess, first := mfaSession(fmt.Sprintf("race%d", i), "u1", u.PasswordChangedAt)
			err := s.FinishMFAChallenge(ctx, []byte("h5"), t0, sess, first)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, auth.ErrConflict) {
				t.Errorf("racing finish: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 20 racing finishes of one challenge won, want 1", won)
	}

	// DeleteTOTP drops the waiting sign-ins.
	must(t, s.CreateMFAChallenge(ctx, challenge("h6", "u1", t0, u.PasswordChangedAt)))
	must(t, s.DeleteTOTP(ctx, "u1"))
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h6"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a challenge after DeleteTOTP = %v, want ErrNotFound", err)
	}
}

func testPurgeChallenges(t *testing.T, s Store) {
	u := user("u1", "a@x.io", "")
	mustUser(t, s, u)
	must(t, s.CreateMFAChallenge(ctx, challenge("old", "u1", t0, u.PasswordChangedAt)))
	must(t, s.CreateMFAChallenge(ctx, challenge("live", "u1", t0.Add(4*time.Minute), u.PasswordChangedAt)))
	if n := purgeAll(t, s, t0.Add(6*time.Minute), 1); n < 1 {
		t.Fatalf("purged %d rows, want the expired challenge", n)
	}
	// Had it been kept, the expired challenge would still be claimable at a time before its expiry.
	if _, err := s.ClaimMFAChallenge(ctx, []byte("old"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the expired challenge was kept: %v", err)
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("live"), t0.Add(6*time.Minute), 5); err != nil {
		t.Fatalf("the live challenge was purged: %v", err)
	}
}

func testDeleteUserRemovesTwoFactor(t *testing.T, s Store) {
	u := user("u1", "a@x.io", "")
	mustUser(t, s, u)
	must(t, s.StartTOTP(ctx, auth.TOTP{UserID: "u1", Secret: []byte("s"), CreatedAt: t0}))
	must(t, s.ConfirmTOTP(ctx, "u1", 7, hashes("r", 10), t0))
	must(t, s.CreateMFAChallenge(ctx, challenge("h", "u1", t0, u.PasswordChangedAt)))
	must(t, s.DeleteUser(ctx, "u1"))
	// A new user with the same id finds none of the old rows: no authenticator, no recovery
	// codes, no waiting sign-in (claimable at t0 had it been kept).
	mustUser(t, s, u)
	if _, err := s.TOTP(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("TOTP of the new user = %v, want ErrNotFound", err)
	}
	if _, err := s.ClaimMFAChallenge(ctx, []byte("h"), t0, 5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the deleted user's challenge = %v, want ErrNotFound", err)
	}
	if n := recoveryLeft(t, s, "u1"); n != 0 {
		t.Fatalf("the new user has %d recovery codes", n)
	}
}
