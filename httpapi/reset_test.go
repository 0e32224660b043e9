package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

const resetSent = `{"detail":"An OTP email was sent to the user"}`

func TestPasswordResetFlow(t *testing.T) {
	e := newEnv(t)
	e.register("reset@example.com")
	access, refresh := e.login("reset@example.com", testPassword)
	code := e.resetCode("reset@example.com")
	// Asking for a reset changes nothing yet: the old password still works.
	e.login("reset@example.com", testPassword)

	want(t, e.post("/auth/password/reset/verify", obj{"email": "reset@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	want(t, e.post("/auth/password/reset/verify/", obj{"email": "RESET@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "reset@example.com", "otp": code, "password": "password"}), 400,
		`{"password":["This password is too common."]}`)
	e.clock.Advance(time.Microsecond)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "reset@example.com", "otp": code, "password": "new secret phrase"}), 200, `{"detail":"Password has been reset"}`)

	want(t, e.post("/auth/token/", obj{"email": "reset@example.com", "password": testPassword}), 401, noAccount)
	e.login("reset@example.com", "new secret phrase")
	want(t, e.verify(access), 401, invalidToken)   // issued before the reset
	want(t, e.refresh(refresh), 401, invalidToken) // every sign-in revoked
	// The code is used up.
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "reset@example.com", "otp": code, "password": "another secret phrase"}), 400, badCode)

	// A "password changed" notice follows, holding neither the password nor the code.
	msgs := e.smtp.WaitFor(2)
	notice := msgs[len(msgs)-1]
	if !strings.Contains(notice.Subject, "changed") || strings.Contains(notice.Raw, "new secret phrase") || strings.Contains(notice.Raw, code) {
		t.Fatalf("notice: %q %q", notice.Subject, notice.Text)
	}
	var row int
	e.store.DB().QueryRow(`SELECT email_verified FROM users`).Scan(&row)
	if row != 1 {
		t.Error("the email does not count as verified after a reset")
	}
}

func TestTokensIssuedInTheSameSecondAsAReset(t *testing.T) {
	e := newEnv(t)
	e.register("second@example.com")
	code := e.resetCode("second@example.com")
	before, _ := e.login("second@example.com", testPassword)
	e.clock.Advance(300 * time.Millisecond)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "second@example.com", "otp": code, "password": "fresh secret phrase"}), 200, `{"detail":"Password has been reset"}`)
	e.clock.Advance(300 * time.Millisecond) // still the same second
	after, _ := e.login("second@example.com", "fresh secret phrase")
	want(t, e.verify(before), 401, invalidToken)
	want(t, e.verify(after), 200, `{}`)
}

func TestUnknownEmailReset(t *testing.T) {
	e := newEnv(t)
	want(t, e.post("/auth/password/reset/", obj{"email": "ghost@example.com"}), 404, `{"detail":"Not found."}`)
	want(t, e.post("/auth/password/reset/verify", obj{"email": "ghost@example.com", "otp": "123456"}), 400, badCode)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "ghost@example.com", "otp": "123456", "password": "some new secret"}), 400, badCode)
	want(t, e.post("/auth/password/reset/", obj{"email": "not an email"}), 400, `{"email":["Enter a valid email address."]}`)

	quiet := newEnv(t, func(e *env) { e.cfg.RevealUnknownEmail = false; e.cfg.CodesPerHour = 5 })
	for range 5 {
		want(t, quiet.post("/auth/password/reset/", obj{"email": "ghost@example.com"}), 200, resetSent)
	}
	r := quiet.post("/auth/password/reset/", obj{"email": "ghost@example.com"})
	if r.status != 429 {
		t.Fatalf("sixth request for an unknown email: %d %s, want 429 like a known one", r.status, r.raw)
	}
	want(t, quiet.post("/auth/password/reset/verify", obj{"email": "ghost@example.com", "otp": "123456"}), 400, badCode)
	quiet.sender.Drain(t.Context())
	if n := len(quiet.smtp.Received()); n != 0 {
		t.Fatalf("%d emails sent for an unknown address", n)
	}
}

func TestCodeExpires(t *testing.T) {
	e := newEnv(t)
	e.register("ttl@example.com")
	code := e.resetCode("ttl@example.com")
	e.clock.Advance(10*time.Minute - time.Second)
	want(t, e.post("/auth/password/reset/verify", obj{"email": "ttl@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	e.clock.Advance(2 * time.Second)
	want(t, e.post("/auth/password/reset/verify", obj{"email": "ttl@example.com", "otp": code}), 400, badCode)
}

func TestNewestCodeReplacesOlder(t *testing.T) {
	e := newEnv(t)
	e.register("newest@example.com")
	e.register("other@example.com")
	a := e.resetCode("newest@example.com")
	b := e.resetCode("newest@example.com")
	if a == b {
		t.Skip("two codes drawn equal (one chance in a million)")
	}
	want(t, e.post("/auth/password/reset/verify", obj{"email": "newest@example.com", "otp": a}), 400, badCode)
	want(t, e.post("/auth/password/reset/verify", obj{"email": "other@example.com", "otp": b}), 400, badCode) // bound to its email
	want(t, e.post("/auth/password/reset/verify", obj{"email": "newest@example.com", "otp": b}), 200, `{"detail":"OTP is valid"}`)
}

func TestFiveWrongTriesKillACode(t *testing.T) {
	e := newEnv(t)
	e.register("tries@example.com")
	code := e.resetCode("tries@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range 3 {
		want(t, e.post("/auth/password/reset/verify", obj{"email": "tries@example.com", "otp": wrong}), 400, badCode)
	}
	// A right guess in between does not use a try.
	want(t, e.post("/auth/password/reset/verify", obj{"email": "tries@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	for range 2 {
		want(t, e.post("/auth/password/reset/confirm/", obj{"email": "tries@example.com", "otp": wrong, "password": "a fine new secret"}), 400, badCode)
	}
	want(t, e.post("/auth/password/reset/verify", obj{"email": "tries@example.com", "otp": code}), 400, badCode)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "tries@example.com", "otp": code, "password": "a fine new secret"}), 400, badCode)
}

func TestParallelGuessesCannotExceedTheLimit(t *testing.T) {
	e := newEnv(t)
	e.register("parallel@example.com")
	code := e.resetCode("parallel@example.com")
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			guess := strings.Repeat(string(rune('0'+i%10)), 6)
			if guess == code {
				guess = "x"
			}
			e.post("/auth/password/reset/verify", obj{"email": "parallel@example.com", "otp": guess})
		})
	}
	wg.Wait()
	var attempts int
	e.store.DB().QueryRow(`SELECT attempts FROM reset_codes ORDER BY seq DESC LIMIT 1`).Scan(&attempts)
	if attempts != 5 {
		t.Fatalf("attempts counted = %d, want 5", attempts)
	}
	want(t, e.post("/auth/password/reset/verify", obj{"email": "parallel@example.com", "otp": code}), 400, badCode)
}

func TestConcurrentConfirmsUseTheCodeOnce(t *testing.T) {
	e := newEnv(t)
	e.register("confirm2@example.com")
	code := e.resetCode("confirm2@example.com")
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			r := e.post("/auth/password/reset/confirm/", obj{"email": "confirm2@example.com", "otp": code, "password": "parallel secret " + string(rune('a'+i))})
			if r.status == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if r.status != 400 {
				t.Errorf("confirm: %d %s", r.status, r.raw)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d confirms succeeded, want 1", ok)
	}
}

func TestHourlyCodeCap(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.CodesPerHour = 5 })
	e.register("cap@example.com")
	for range 5 {
		e.resetCode("cap@example.com")
		e.clock.Advance(time.Minute)
	}
	r := e.post("/auth/password/reset/", obj{"email": "CAP@example.com"})
	// The first code was made 5 minutes ago: the hour ends in 55 minutes.
	want(t, r, 429, `{"detail":"Request was throttled. Expected available in 3300 seconds."}`)
	if r.header.Get("Retry-After") != "3300" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	e.sender.Drain(t.Context())
	if n := len(e.smtp.Received()); n != 5 {
		t.Errorf("%d emails, want 5: a throttled request sends none", n)
	}
	e.clock.Advance(55 * time.Minute)
	e.resetCode("cap@example.com")
}

func TestCodesAreNeverStoredOrLogged(t *testing.T) {
	e := newEnv(t)
	e.register("secret@example.com")
	code := e.resetCode("secret@example.com")
	e.post("/auth/password/reset/verify", obj{"email": "secret@example.com", "otp": code})
	access, refresh := e.login("secret@example.com", testPassword)
	e.refresh(refresh)
	e.post("/auth/password/reset/confirm/", obj{"email": "secret@example.com", "otp": code, "password": "final secret phrase"})
	db := e.dump()
	logs := e.logs.String()
	for name, secret := range map[string]string{"code": code, "password": testPassword, "new password": "final secret phrase",
		"access token": access, "refresh token": refresh} {
		if bytes.Contains(db, []byte(secret)) {
			t.Errorf("the database holds the %s", name)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
	for _, event := range []string{"register", "login", "reset_request", "reset_confirm"} {
		if !containsEvent(logs, event) {
			t.Errorf("no %q event logged", event)
		}
	}
}

// A sign-in racing a reset either finishes before the reset and is revoked by it, or sees the
// new password: however the requests interleave, no sign-in that checked the old password keeps
// working once the reset has answered.
func TestNoSignInWithTheOldPasswordSurvivesAReset(t *testing.T) {
	e := newEnv(t)
	e.hasher = auth.NewHasher(auth.DefaultHashParams, 8, 30*time.Second)
	e.start()
	for round := range 4 {
		email := fmt.Sprintf("race%d@example.com", round)
		e.register(email)
		code := e.resetCode(email)
		var wg sync.WaitGroup
		pairs := make(chan [2]string, 16)
		for range 6 {
			wg.Go(func() {
				r := e.post("/auth/token/", obj{"email": email, "password": testPassword})
				if r.status == 200 {
					pairs <- [2]string{r.str("access"), r.str("refresh")}
				} else if r.status != 401 {
					t.Errorf("sign-in racing a reset: %d %s", r.status, r.raw)
				}
			})
		}
		want(t, e.post("/auth/password/reset/confirm/", obj{"email": email, "otp": code, "password": "a brand new secret"}), 200, `{"detail":"Password has been reset"}`)
		wg.Wait()
		close(pairs)
		for p := range pairs {
			want(t, e.verify(p[0]), 401, invalidToken)
			want(t, e.refresh(p[1]), 401, invalidToken)
		}
	}
}

// A code replaced before its email went out is not sent: the person gets only the newest.
func TestReplacedCodeEmailIsNotSent(t *testing.T) {
	e := newEnv(t, withMailByHand) // both emails wait in the outbox until the test sends
	e.register("twice@example.com")
	want(t, e.post("/auth/password/reset/", obj{"email": "twice@example.com"}), 200, resetSent)
	want(t, e.post("/auth/password/reset/", obj{"email": "twice@example.com"}), 200, resetSent)
	if sent := e.sender.Drain(context.Background()); sent != 1 {
		t.Fatalf("%d emails sent, want the newest code's only", sent)
	}
	msgs := e.smtp.WaitFor(1)
	var pending int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`).Scan(&pending)
	if pending != 0 || len(e.smtp.Received()) != 1 {
		t.Fatalf("%d emails received, %d still pending: want only the newest code's", len(e.smtp.Received()), pending)
	}
	code := authtest.Code(t, msgs[0])
	want(t, e.post("/auth/password/reset/verify/", obj{"email": "twice@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
}

// A disabled account gets no reset code, with an active account's answer, and a code mailed
// before it was disabled no longer sets a password (found by the operators' review).
func TestResetOfADisabledAccount(t *testing.T) {
	e := newEnv(t)
	e.register("off@example.com")
	code := e.resetCode("off@example.com")
	u, _ := e.store.UserByEmailKey(t.Context(), "off@example.com")
	if err := e.store.SetUserActive(t.Context(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	var before int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&before)
	want(t, e.post("/auth/password/reset/", obj{"email": "off@example.com"}), 200, `{"detail":"An OTP email was sent to the user"}`)
	var after int
	e.store.DB().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&after)
	if after != before {
		t.Fatalf("a reset of a disabled account queued %d emails", after-before)
	}
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "off@example.com", "otp": code, "password": "a brand new secret"}), 400,
		`{"otp":["Invalid or expired OTP."]}`)
}
