package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
)

// instance is one running authd.
type instance struct {
	url  string
	logs *authtest.Buffer
}

// cluster starts n authd instances at the same moment on one database and Redis, and stops
// them when the test ends.
func cluster(t *testing.T, n int, env map[string]string) []instance {
	t.Helper()
	out := make([]instance, n)
	var wg sync.WaitGroup
	for i := range out {
		addr := freeAddr(t)
		vars := map[string]string{"AUTH_ADDR": addr}
		for k, v := range env {
			vars[k] = v
		}
		logs := &authtest.Buffer{}
		out[i] = instance{url: "http://" + addr, logs: logs}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		wg.Go(func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, listEnv(vars), logs, logs) })
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		})
	}
	for i, in := range out {
		waitHealthy(t, in.url, in.logs)
		_ = i
	}
	return out
}

func waitHealthy(t *testing.T, base string, logs *authtest.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy: %v\n%s", base, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call posts body as JSON from client address ip (through the trusted proxy, loopback) and
// returns the status and body.
func call(t *testing.T, url, ip string, body map[string]string) (int, map[string]any) {
	t.Helper()
	code, out, err := try(url, ip, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// try is call for a server that may be gone: no answer is an error, not a failed test.
func try(url, ip string, body map[string]string) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if ip == "" {
		ip = fmt.Sprintf("10.%d.%d.%d", mathrand.IntN(256), mathrand.IntN(256), mathrand.IntN(254)+1)
	}
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out, nil
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	json.Unmarshal(b, &h)
	return h.Kid
}

func TestInstancesActAsOneService(t *testing.T) {
	pg, redis := authtest.PostgresURL(t), authtest.RedisURL(t)
	smtp := authtest.StartSMTP(t)
	nodes := cluster(t, 3, map[string]string{
		"AUTH_DATABASE_URL": pg, "AUTH_REDIS_URL": redis, "AUTH_SMTP_URL": smtp.URL(),
		"AUTH_TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_IP_RATE_LIMIT": "12", "AUTH_RESET_CODE_LIMIT": "5",
		"AUTH_KEY_RELOAD_INTERVAL": "100ms",
		"AUTH_EMAIL_VERIFICATION":  "off", // the emails counted below are the codes it asks for
	})
	a, b, c := nodes[0].url, nodes[1].url, nodes[2].url

	// One signing key, made once though the three started together, published by all.
	jwks := getBody(t, a+"/.well-known/jwks.json")
	if strings.Count(jwks, `"kid"`) != 1 || getBody(t, b+"/.well-known/jwks.json") != jwks || getBody(t, c+"/.well-known/jwks.json") != jwks {
		t.Fatalf("instances publish different keys:\n%s", jwks)
	}

	// A token issued by one instance verifies and refreshes on the others.
	const password = "one service, three doors"
	if code, body := call(t, a+"/auth/register/", "", map[string]string{"first_name": "Ida", "last_name": "Noddack",
		"email": "ida@example.com", "phone_no": "+442071838760", "password": password}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	code, pair := call(t, b+"/auth/token/", "", map[string]string{"email": "ida@example.com", "password": password})
	if code != 200 {
		t.Fatalf("token: %d %v", code, pair)
	}
	if code, _ := call(t, c+"/auth/token/verify/", "", map[string]string{"access_token": pair["access"].(string)}); code != 200 {
		t.Fatalf("verify on another instance: %d", code)
	}

	// One refresh token sent to all three at once: one successor, the same in every answer.
	r1 := pair["refresh"].(string)
	var mu sync.Mutex
	successors := map[string]int{}
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Go(func() {
			code, body := call(t, nodes[i%3].url+"/auth/token/refresh/", "", map[string]string{"refresh_token": r1})
			mu.Lock()
			defer mu.Unlock()
			if code != 200 {
				t.Errorf("racing refresh on instance %d: %d %v", i%3, code, body)
				return
			}
			successors[body["refresh"].(string)]++
		})
	}
	wg.Wait()
	if len(successors) != 1 {
		t.Fatalf("%d different successors across instances, want 1", len(successors))
	}
	var r2 string
	for r := range successors {
		r2 = r
	}
	// Reuse of an older token on one instance revokes the session everywhere.
	_, next := call(t, b+"/auth/token/refresh/", "", map[string]string{"refresh_token": r2})
	r3 := next["refresh"].(string)
	if code, _ := call(t, c+"/auth/token/refresh/", "", map[string]string{"refresh_token": r1}); code != 401 {
		t.Fatalf("reuse of a grandparent: %d, want 401", code)
	}
	if code, _ := call(t, a+"/auth/token/refresh/", "", map[string]string{"refresh_token": r3}); code != 401 {
		t.Fatalf("the newest token of a revoked session: %d, want 401", code)
	}

	// Codes and their five tries hold across instances.
	if code, _ := call(t, a+"/auth/password/reset/", "", map[string]string{"email": "ida@example.com"}); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	otp := authtest.Code(t, smtp.WaitFor(1)[0])
	wrong := "000000"
	if otp == wrong {
		wrong = "111111"
	}
	for i := range 5 {
		call(t, nodes[i%3].url+"/auth/password/reset/verify", "", map[string]string{"email": "ida@example.com", "otp": wrong})
	}
	if code, _ := call(t, c+"/auth/password/reset/verify", "", map[string]string{"email": "ida@example.com", "otp": otp}); code != 400 {
		t.Fatalf("the right code after five wrong tries on three instances: %d, want 400", code)
	}
	// The hourly cap is counted in the database: 4 more codes, then 429, whichever instance asks.
	for i := range 4 {
		if code, _ := call(t, nodes[i%3].url+"/auth/password/reset/", "", map[string]string{"email": "ida@example.com"}); code != 200 {
			t.Fatalf("code %d: %d", i+2, code)
		}
	}
	if code, _ := call(t, b+"/auth/password/reset/", "", map[string]string{"email": "ida@example.com"}); code != 429 {
		t.Fatalf("sixth code within the hour: %d, want 429", code)
	}

	// Every email is sent once, though three senders drain the one outbox.
	for i := range 9 {
		email := fmt.Sprintf("mail%d@example.com", i)
		call(t, nodes[i%3].url+"/auth/register/", "", map[string]string{"first_name": "M", "last_name": "N", "email": email,
			"phone_no": fmt.Sprintf("+4420718388%02d", i)})
	}
	// Of ida's five codes, those replaced before their email went out are not sent: at least the
	// newest is, and each of the nine welcome emails.
	smtp.WaitFor(1 + 9)
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var unsent int
		db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`).Scan(&unsent)
		if unsent == 0 {
			break // every email is recorded as sent: a duplicate would have been sent by now
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails still unsent", unsent)
		}
	}
	msgs := smtp.Received()
	ids := map[string]bool{}
	for _, m := range msgs {
		if ids[m.MessageID] {
			t.Fatalf("email %s sent twice", m.MessageID)
		}
		ids[m.MessageID] = true
	}
	var stopped int
	db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND last_error = 'replaced by a newer code'`).Scan(&stopped)
	if len(msgs)+stopped != 14 || len(msgs) < 10 {
		t.Fatalf("%d emails sent and %d stopped as replaced, want 14 in all, at least 10 sent", len(msgs), stopped)
	}

	// The per-address limit is one budget for the whole service, not one per instance.
	accepted := 0
	client := fmt.Sprintf("203.0.%d.%d", mathrand.IntN(256), mathrand.IntN(254)+1)
	batch := mathrand.Uint64() // Redis keeps sign-in failures for 15 minutes, across runs of this test
	for i := range 30 {
		email := fmt.Sprintf("nobody%d-%x@example.com", i, batch) // not the per-email failure limit
		if code, _ := call(t, nodes[i%3].url+"/auth/token/", client, map[string]string{"email": email, "password": "y"}); code != 429 {
			accepted++
		}
	}
	if accepted != 12 {
		t.Fatalf("%d requests accepted from one address across three instances, want 12", accepted)
	}

	// Key rotation: published by every instance, then used, while old tokens keep working. (The
	// first pair's sign-in was revoked by the reuse above, so a live one is taken.)
	_, live := call(t, a+"/auth/token/", "", map[string]string{"email": "ida@example.com", "password": password})
	old := live["access"].(string)
	var out authtest.Buffer
	rotateEnv := map[string]string{"AUTH_DATABASE_URL": pg}
	err = run(context.Background(), []string{"keys", "rotate", "-activate-after", "0s"}, func(k string) string { return rotateEnv[k] }, listEnv(rotateEnv), &out, &out)
	if err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range nodes {
		for strings.Count(getBody(t, n.url+"/.well-known/jwks.json"), `"kid"`) != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not publish the new key", n.url)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_, fresh := call(t, c+"/auth/token/", "", map[string]string{"email": "ida@example.com", "password": password})
	if kidOf(t, fresh["access"].(string)) == kidOf(t, old) {
		t.Fatal("new tokens are still signed with the old key")
	}
	for _, n := range nodes {
		for _, tok := range []string{old, fresh["access"].(string)} {
			if code, _ := call(t, n.url+"/auth/token/verify/", "", map[string]string{"access_token": tok}); code != 200 {
				t.Fatalf("verify on %s after rotation: %d", n.url, code)
			}
		}
	}
}

func TestSignInLockoutHoldsAcrossInstances(t *testing.T) {
	lockoutAcrossInstances(t, authtest.PostgresURL(t), authtest.RedisURL(t))
}

// Without Redis the instances count failed sign-ins in the database they share, so the limit
// still holds for the whole service, not once per instance.
func TestSignInLockoutHoldsAcrossInstancesWithoutRedis(t *testing.T) {
	pg := authtest.PostgresURL(t)
	email := lockoutAcrossInstances(t, pg, "")
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Every attempt was counted there, the refused ones included, under a digest of the email.
	var key string
	var hits int
	if err := db.QueryRow(`SELECT key_hash, hits FROM limits`).Scan(&key, &hits); err != nil || hits != 43 || strings.Contains(key, email) {
		t.Fatalf("the database's count: %q %d (%v), want 43 attempts under a digest", key, hits, err)
	}
}

// lockoutAcrossInstances starts three instances on the database pg and the Redis at redis (none
// when empty), sends 40 wrong passwords for one email at once, round-robin, and checks that at
// most 10 were judged and that the right password is then refused on every instance. It returns
// the email.
func lockoutAcrossInstances(t *testing.T, pg, redis string) string {
	t.Helper()
	env := map[string]string{
		"AUTH_DATABASE_URL": pg, "AUTH_SMTP_URL": authtest.StartSMTP(t).URL(),
		"AUTH_TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_LOGIN_FAILURE_LIMIT": "10",
	}
	if redis != "" {
		env["AUTH_REDIS_URL"] = redis
	}
	nodes := cluster(t, 3, env)
	// Redis keeps sign-in failures for 15 minutes, across runs of this test.
	email := fmt.Sprintf("guessed-%x@example.com", mathrand.Uint64())
	const password = "the one right answer"
	if code, body := call(t, nodes[0].url+"/auth/register/", "", map[string]string{"first_name": "Ada", "last_name": "Byron",
		"email": email, "phone_no": fmt.Sprintf("+4420718%05d", mathrand.IntN(100000)), "password": password}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	// 40 wrong passwords at once, round-robin over the instances, each from its own address.
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			code, body := call(t, nodes[i%3].url+"/auth/token/", "", map[string]string{"email": email, "password": "wrong guess here"})
			mu.Lock()
			statuses[code]++
			mu.Unlock()
			if code != 401 && code != 429 {
				t.Errorf("instance %d: %d %v", i%3, code, body)
			}
		})
	}
	wg.Wait()
	if statuses[401] > 10 || statuses[401]+statuses[429] != 40 {
		t.Fatalf("40 wrong passwords at once on three instances: statuses %v, want at most 10 judged (401), the rest 429", statuses)
	}
	for i, n := range nodes {
		if code, _ := call(t, n.url+"/auth/token/", "", map[string]string{"email": email, "password": password}); code != 429 {
			t.Fatalf("the right password on instance %d after the flood: %d, want 429", i, code)
		}
	}
	return email
}
