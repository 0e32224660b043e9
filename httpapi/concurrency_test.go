package httpapi_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// TestMixedLoadHasNoServerErrors runs registrations, sign-ins, refreshes, verifies, logouts and
// reset requests from many workers at once on SQLite: a busy database must make requests wait,
// never fail with a 5xx.
func TestMixedLoadHasNoServerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	// This test is about the database under contention: hashing is made cheap and never shed
	// (its queue is tested in TestHashingQueueShedsLoad), so that even under -race every
	// request must succeed.
	e := newEnv(t, func(e *env) {
		e.hasher = auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)
	})
	const workers, rounds = 24, 4
	var mu sync.Mutex
	statuses := map[int]int{}
	note := func(r response) {
		mu.Lock()
		statuses[r.status]++
		mu.Unlock()
		if r.status >= 500 {
			t.Errorf("%d %s", r.status, r.raw)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			email := fmt.Sprintf("load%d@example.com", w)
			note(e.post("/auth/register/", obj{"first_name": "Load", "last_name": "Test", "email": email, "phone_no": newPhone(), "password": testPassword}))
			for range rounds {
				r := e.post("/auth/token/", obj{"email": email, "password": testPassword})
				note(r)
				access, refresh := r.str("access"), r.str("refresh")
				for range 3 {
					note(e.verify(access))
					r := e.refresh(refresh)
					note(r)
					refresh, access = r.str("refresh"), r.str("access")
				}
				note(e.post("/auth/logout/", obj{"refresh_token": refresh}))
				note(e.post("/auth/password/reset/", obj{"email": email}))
			}
		})
	}
	wg.Wait()
	if statuses[200]+statuses[201] != workers*(1+rounds*(1+3*2+2)) {
		t.Fatalf("statuses %v: every request should have succeeded", statuses)
	}
}

// TestResetRacingRefreshesLeavesNoLiveToken confirms a reset while the same user's sessions
// refresh in a loop: afterwards no refresh token issued before the reset works.
func TestResetRacingRefreshesLeavesNoLiveToken(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.ReuseWindow = 0 })
	e.register("racer@example.com")
	for i := range 5 {
		code := e.resetCode("racer@example.com")
		password := fmt.Sprintf("racing password %d", i)
		current := testPassword
		if i > 0 {
			current = fmt.Sprintf("racing password %d", i-1)
		}
		_, tok := e.login("racer@example.com", current)
		var latest []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 20 {
				r := e.refresh(tok)
				if r.status != 200 {
					return
				}
				tok = r.str("refresh")
				mu.Lock()
				latest = append(latest, tok)
				mu.Unlock()
			}
		})
		want(t, e.post("/auth/password/reset/confirm/", obj{"email": "racer@example.com", "otp": code, "password": password}), 200, `{"detail":"Password has been reset"}`)
		wg.Wait()
		for _, old := range latest {
			want(t, e.refresh(old), 401, invalidToken)
		}
	}
}

// TestParallelRegistrationsOfOneEmail: twenty registrations of A@x.io and a@x.io at once make
// exactly one account; the rest get the duplicate-email error, never a 500.
func TestParallelRegistrationsOfOneEmail(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.hasher = auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)
	})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			email := "A@x.io"
			if i%2 == 1 {
				email = "a@x.io"
			}
			r := e.post("/auth/register/", obj{"first_name": "P", "last_name": "Q", "email": email, "phone_no": newPhone(), "password": testPassword})
			if r.status == 400 {
				if err := match(r, 400, `{"email":["user with this email already exists."]}`); err != nil {
					t.Error(err)
				}
			}
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[201] != 1 || statuses[400] != 19 {
		t.Fatalf("statuses %v: want one 201 and 19 duplicates", statuses)
	}
	if e.userCount() != 1 {
		t.Fatalf("%d accounts", e.userCount())
	}
}
