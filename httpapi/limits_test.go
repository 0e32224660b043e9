package httpapi_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

func TestFailedSignInsLockTheEmail(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 10 })
	e.register("locked@example.com")
	for range 10 {
		want(t, e.post("/auth/token/", obj{"email": "Locked@example.com", "password": "wrong guess here"}), 401, noAccount)
	}
	r := e.post("/auth/token/", obj{"email": "locked@example.com", "password": testPassword})
	if r.status != 429 || r.header.Get("Retry-After") != "900" {
		t.Fatalf("after 10 failures: %d %s Retry-After %q, want 429 for 900 s", r.status, r.raw, r.header.Get("Retry-After"))
	}
	want(t, r, 429, `{"detail":"Request was throttled. Expected available in 900 seconds."}`)
	// Unknown emails are counted the same way.
	for range 10 {
		e.post("/auth/token/", obj{"email": "nobody@example.com", "password": "wrong guess here"})
	}
	if r := e.post("/auth/token/", obj{"email": "nobody@example.com", "password": "x"}); r.status != 429 {
		t.Fatalf("unknown email after 10 failures: %d", r.status)
	}
	// A reset still works while locked.
	code := e.resetCode("locked@example.com")
	e.clock.Advance(time.Minute)
	if r := e.post("/auth/token/", obj{"email": "locked@example.com", "password": testPassword}); r.status != 429 {
		t.Fatalf("still locked: %d", r.status)
	}
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "locked@example.com", "otp": code, "password": "unlocked secret words"}), 200, `{"detail":"Password has been reset"}`)
	e.login("locked@example.com", "unlocked secret words") // a reset clears the count

	e.clock.Advance(15 * time.Minute)
	if r := e.post("/auth/token/", obj{"email": "nobody@example.com", "password": "x"}); r.status != 401 {
		t.Fatalf("after the window: %d, want 401", r.status)
	}
}

// lockoutUnderLoad turns the failed sign-in limit on at 10, with hashing room for every request
// it lets through, so that no answer is a 503 for want of a slot.
func lockoutUnderLoad(e *env) {
	e.cfg.LoginFailureLimit = 10
	e.hasher = auth.NewHasher(auth.DefaultHashParams, 4, time.Minute)
}

// signInsAtOnce sends n sign-ins for email at once, in alternating case, and counts the answers by
// status. It checks each 401 and 429 body, and that a 429 says when to come back.
func (e *env) signInsAtOnce(n int, email, password string) map[int]int {
	e.t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		submitted := email
		if i%2 == 1 {
			submitted = strings.ToUpper(email)
		}
		wg.Go(func() {
			r := e.post("/auth/token/", obj{"email": submitted, "password": password})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
			if err := checkThrottledOrDenied(r); err != nil {
				e.t.Error(err)
			}
		})
	}
	wg.Wait()
	return statuses
}

// checkThrottledOrDenied says what is wrong with a 401 or 429 sign-in answer, or nil.
func checkThrottledOrDenied(r response) error {
	switch r.status {
	case 401:
		return match(r, 401, noAccount)
	case 429:
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 900 {
			return fmt.Errorf("429 with Retry-After %q, want 1 to 900 s", r.header.Get("Retry-After"))
		}
		return match(r, 429, fmt.Sprintf(`{"detail":"Request was throttled. Expected available in %d seconds."}`, wait))
	}
	return nil
}

// lockoutHolds sends 40 wrong passwords at once for a new account and wants exactly 10 of them
// judged, then the right password refused too.
func lockoutHolds(t *testing.T, e *env, email string) {
	t.Helper()
	e.register(email)
	got := e.signInsAtOnce(40, email, "wrong guess here")
	if want := map[int]int{401: 10, 429: 30}; !maps.Equal(got, want) {
		t.Fatalf("40 wrong passwords at once with a limit of 10: statuses %v, want %v", got, want)
	}
	r := e.post("/auth/token/", obj{"email": email, "password": testPassword})
	if r.status != 429 {
		t.Fatalf("the right password after the flood: %d %s, want 429", r.status, r.raw)
	}
	if err := checkThrottledOrDenied(r); err != nil {
		t.Fatal(err)
	}
}

func TestParallelWrongPasswordsAreJudgedUpToTheLimit(t *testing.T) {
	e := newEnv(t, lockoutUnderLoad)
	lockoutHolds(t, e, "parallel@example.com")
	if r := e.post("/auth/token/", obj{"email": "parallel@example.com", "password": testPassword}); r.header.Get("Retry-After") != "900" {
		t.Fatalf("Retry-After %q, want 900: the window is not extended by attempts past the limit", r.header.Get("Retry-After"))
	}
}

func TestParallelWrongPasswordsAreJudgedUpToTheLimitInRedis(t *testing.T) {
	e := newEnv(t, withRedis, lockoutUnderLoad)
	// Redis keeps counts for 15 minutes, across runs of this test.
	lockoutHolds(t, e, "parallel-"+strings.ToLower(rand.Text()[:12])+"@example.com")
}

func TestSuccessClearsFailures(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.LoginFailureLimit = 3 })
	e.register("clear@example.com")
	for range 2 {
		e.post("/auth/token/", obj{"email": "clear@example.com", "password": "wrong guess here"})
	}
	e.login("clear@example.com", testPassword)
	for range 2 {
		e.post("/auth/token/", obj{"email": "clear@example.com", "password": "wrong guess here"})
	}
	e.login("clear@example.com", testPassword)
}

func TestClientAddressLimit(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.IPRateLimit = 5 })
	for i := range 5 {
		// A rotating X-Forwarded-For from an untrusted peer changes nothing.
		r := e.do("POST", "/auth/token/", "application/json", `{}`, "X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
		if r.status != 400 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := e.do("POST", "/auth/register/", "application/json", `{}`, "X-Forwarded-For", "203.0.113.99")
	want(t, r, 429, `{"detail":"Request was throttled. Expected available in 60 seconds."}`)
	// Refresh and verify are not credential endpoints.
	want(t, e.verify("x"), 401, invalidToken)
	e.clock.Advance(time.Minute)
	if r := e.post("/auth/token/", obj{}); r.status != 400 {
		t.Fatalf("after a minute: %d", r.status)
	}
}

func TestTrustedProxyForwardsTheClientAddress(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.cfg.IPRateLimit = 2
		e.opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
		for range 2 {
			if r := e.do("POST", "/auth/token/", "application/json", `{}`, "X-Forwarded-For", "10.9.9.9, "+client); r.status != 400 {
				t.Fatalf("%s: %d", client, r.status)
			}
		}
		if r := e.do("POST", "/auth/token/", "application/json", `{}`, "X-Forwarded-For", client); r.status != 429 {
			t.Fatalf("%s third request: %d, want 429", client, r.status)
		}
	}
}

// floodSignIns sends n correct sign-ins for email at once and counts the answers by status; each
// 503 must be the contract's, with Retry-After: 1.
func floodSignIns(t *testing.T, e *env, email string, n int) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := e.post("/auth/token/", obj{"email": email, "password": testPassword})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
			if r.status != 503 {
				return
			}
			if err := match(r, 503, `{"detail":"Service temporarily unavailable, try again later."}`); err != nil {
				t.Error(err)
			}
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Errorf("503 with Retry-After %q, want 1", got)
			}
		})
	}
	wg.Wait()
	return statuses
}

func TestHashingQueueShedsLoad(t *testing.T) {
	// One hashing slot and no wait: concurrent sign-ins past the first are shed with 503.
	busy := newEnv(t)
	busy.register("busy@example.com")
	busy.restartWith(auth.NewHasher(auth.DefaultHashParams, 1, 0))
	if statuses := floodSignIns(t, busy, "busy@example.com", 8); statuses[200] < 1 || statuses[503] < 1 || statuses[200]+statuses[503] != 8 {
		t.Fatalf("statuses %v: want some 200 and the rest 503", statuses)
	}
}

func TestHashingFloodPastTheQueueIsShed(t *testing.T) {
	// One slot and a wait of a few hashes: of 40 sign-ins at once, the few the wait can serve get
	// their hash and the rest a 503 with Retry-After, in the contract's words.
	e := newEnv(t)
	e.register("flood@example.com")
	e.restartWith(auth.NewHasher(auth.DefaultHashParams, 1, 100*time.Millisecond))
	if statuses := floodSignIns(t, e, "flood@example.com", 40); statuses[200] < 1 || statuses[503] < 20 || statuses[200]+statuses[503] != 40 {
		t.Fatalf("statuses %v: want a few 200 and most of the 40 answered 503", statuses)
	}
}

func TestUnknownEmailCostsTheSameAsAWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.register("timing@example.com")
	var known, unknown []time.Duration
	for i := range 15 {
		for _, email := range []string{"timing@example.com", "absent" + strconv.Itoa(i) + "@example.com"} {
			start := time.Now()
			want(t, e.post("/auth/token/", obj{"email": email, "password": "not the password"}), 401, noAccount)
			if email == "timing@example.com" {
				known = append(known, time.Since(start))
			} else {
				unknown = append(unknown, time.Since(start))
			}
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[len(known)/2], unknown[len(unknown)/2]
	if diff := (k - u).Abs(); diff > 25*time.Millisecond && float64(diff) > 0.2*float64(k) {
		t.Fatalf("median wrong password %v, unknown email %v", k, u)
	}
}

func TestOutboxSurvivesAnSMTPOutage(t *testing.T) {
	e := newEnv(t, withMailByHand)
	e.register("outage@example.com")
	e.smtp.Stop()
	start := time.Now()
	want(t, e.post("/auth/password/reset/", obj{"email": "outage@example.com"}), 200, resetSent)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the request waited %v on SMTP", d)
	}
	// The sender tries, fails and schedules a retry; nothing is lost.
	e.sender.Drain(t.Context())
	e.waitRow("a failed attempt recorded", `SELECT COUNT(*) = 1 FROM outbox WHERE sent_at IS NULL AND attempts >= 1 AND last_error <> ''`)
	e.smtp.Start()
	e.clock.Advance(10 * time.Minute) // past any backoff
	e.sender.Drain(t.Context())
	msgs := e.smtp.WaitFor(1)
	e.waitSent(1)
	e.clock.Advance(time.Hour)
	e.sender.Drain(t.Context())
	if got := len(e.smtp.Received()); got != 1 {
		t.Fatalf("%d emails delivered, want exactly 1", got)
	}
	if msgs[0].MessageID == "" {
		t.Error("no Message-ID to deduplicate by")
	}
}

func TestTenCodesDuringAnSMTPOutageAreEachDeliveredOnce(t *testing.T) {
	e := newEnv(t, withMailByHand)
	e.smtp.Stop()
	for i := range 10 {
		email := "outage" + strconv.Itoa(i) + "@example.com"
		e.register(email)
		want(t, e.post("/auth/password/reset/", obj{"email": email}), 200, resetSent)
	}
	e.sender.Drain(t.Context())
	e.waitRow("ten failed attempts recorded", `SELECT COUNT(*) = 10 FROM outbox WHERE sent_at IS NULL AND attempts >= 1 AND last_error <> ''`)
	e.clock.Advance(time.Minute) // SMTP comes back a minute later
	e.smtp.Start()
	for range 10 { // backoff grows; keep moving time until all is out
		e.clock.Advance(time.Minute)
		e.sender.Drain(t.Context())
		if len(e.smtp.Received()) == 10 {
			break
		}
	}
	msgs := e.smtp.WaitFor(10)
	e.waitSent(10)
	e.clock.Advance(time.Hour)
	e.sender.Drain(t.Context())
	seen := map[string]bool{}
	for _, m := range e.smtp.Received() {
		if seen[m.To] {
			t.Fatalf("%s got its code twice", m.To)
		}
		seen[m.To] = true
		authtest.Code(t, m)
	}
	if len(seen) != 10 || len(msgs) != 10 {
		t.Fatalf("%d recipients, want 10", len(seen))
	}
}

// Every security event in the log names the client address and the request it came from.
func TestSecurityEventsNameTheClientAndRequest(t *testing.T) {
	e := newEnv(t)
	e.register("events@example.com")
	e.do("POST", "/auth/token/", "application/json", `{"email":"events@example.com","password":"wrong guess here"}`, "X-Request-ID", "req-failed-1")
	e.do("POST", "/auth/token/", "application/json", `{"email":"events@example.com","password":"`+testPassword+`"}`, "X-Request-ID", "req-login-2")
	lines := strings.Split(e.logs.String(), "\n")
	seen := map[string]bool{}
	for _, line := range lines {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["event"] == nil {
			continue
		}
		if entry["client_ip"] != "127.0.0.1" || entry["request_id"] == "" || entry["request_id"] == nil {
			t.Errorf("security event without its client address and request id: %s", line)
		}
		seen[entry["event"].(string)+" "+fmt.Sprint(entry["request_id"])] = true
	}
	for _, ev := range []string{"login_failed req-failed-1", "login req-login-2"} {
		if !seen[ev] {
			t.Errorf("no %s event with its request id; saw %v", ev, seen)
		}
	}
}
