package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// envOf is an environment holding vars only.
func envOf(vars map[string]string) environment {
	return environment{get: func(k string) string { return vars[k] }, list: listEnv(vars)}
}

// listEnv lists vars as os.Environ does, for run.
func listEnv(vars map[string]string) func() []string {
	return func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}
}

func post(t *testing.T, url string, body map[string]string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestRunServesAndShutsDownCleanly(t *testing.T) {
	smtp := authtest.StartSMTP(t)
	addr := freeAddr(t)
	env := map[string]string{
		"AUTH_ADDR":         addr,
		"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "nested", "authd.db"),
		"AUTH_SMTP_URL":     smtp.URL(),
		"AUTH_MAIL_FROM":    "authd@example.com",
	}
	var stdout, stderr authtest.Buffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, listEnv(env), &stdout, &stderr) }()

	base := "http://" + addr
	waitHealthy(t, base, &stdout)

	const password = "a walk in the park"
	if code, body := post(t, base+"/auth/register/", map[string]string{"first_name": "Walt", "last_name": "Whitman",
		"email": "walt@example.com", "phone_no": "+14155550132", "password": password}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	code, pair := post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": password})
	if code != 200 {
		t.Fatalf("token: %d %v", code, pair)
	}
	if code, body := post(t, base+"/auth/token/verify/", map[string]string{"access_token": pair["access"].(string)}); code != 200 {
		t.Fatalf("verify: %d %v", code, body)
	}
	if code, _ := post(t, base+"/auth/password/reset/", map[string]string{"email": "walt@example.com"}); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	// Two codes went out: the verification code registration mailed (AUTH_EMAIL_VERIFICATION
	// is send by default) and the reset code.
	mails := smtp.WaitFor(2)
	verifyCode, otp := authtest.Code(t, mails[0]), authtest.Code(t, mails[1])

	stop() // what SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v, want nil after a clean shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("authd did not stop")
	}
	logs := stdout.String()
	for _, secret := range []string{password, verifyCode, otp, pair["access"].(string), pair["refresh"].(string)} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the log: %q", secret)
		}
	}
	for _, line := range []string{`"msg":"request"`, `"path":"/auth/token/"`, `"status":200`, `"request_id"`, `"duration_ms"`, "authd stopped"} {
		if !strings.Contains(logs, line) {
			t.Errorf("log lacks %s", line)
		}
	}
}

func TestDebugAddressServesOnlyWhereConfigured(t *testing.T) {
	debug := freeAddr(t)
	node := cluster(t, 1, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"), "AUTH_DEBUG_ADDR": debug})[0]
	if body := getBody(t, "http://"+debug+"/debug/vars"); !strings.Contains(body, "memstats") {
		t.Fatalf("/debug/vars on the debug address: %.80s", body)
	}
	if body := getBody(t, node.url+"/debug/vars"); strings.Contains(body, "memstats") {
		t.Fatal("the public address serves runtime counters")
	}
	// Flags can carry secrets: the command line is shown nowhere.
	for _, path := range []string{"/debug/vars", "/debug/pprof/cmdline"} {
		if body := getBody(t, "http://"+debug+path); strings.Contains(body, os.Args[0]) || strings.Contains(body, "cmdline") {
			t.Fatalf("%s shows the command line: %.120s", path, body)
		}
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	for env, value := range map[string]string{
		"AUTH_ACCESS_TTL":           "five minutes",
		"AUTH_REFRESH_REUSE_WINDOW": "-1s",
		"AUTH_DATABASE_URL":         "mysql://db",
		"AUTH_SMTP_URL":             "http://user:hunter2@mail",
		"AUTH_RESET_REVEAL_UNKNOWN": "maybe",
		"AUTH_IP_RATE_LIMIT":        "lots",
		"AUTH_TRUSTED_PROXIES":      "10.0.0.0/99",
		"AUTH_PHONE_REGION":         "Britain",
		"AUTH_EMAIL_VERIFICATION":   "mandatory",
	} {
		var out bytes.Buffer
		err := run(context.Background(), nil, func(k string) string {
			if k == env {
				return value
			}
			return ""
		}, listEnv(map[string]string{env: value}), &out, &out)
		if err == nil || !strings.HasPrefix(err.Error(), env+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: error %v, want one line naming the variable", env, value, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows a password: %v", err)
		}
	}
}

// AUTH_EMAIL_VERIFICATION=required reaches the Service: over HTTP, the right password of an
// unverified account is 403 email_not_verified (a wrong one still the usual 401), and the code
// registration emailed lets it in.
func TestEmailVerificationRequiredRefusesAnUnverifiedSignIn(t *testing.T) {
	smtp := authtest.StartSMTP(t)
	s := startAuthd(t, map[string]string{
		"AUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "a.db"),
		"AUTH_SMTP_URL":           smtp.URL(),
		"AUTH_EMAIL_VERIFICATION": "required",
	})
	const email, password = "emily@example.com", "a narrow fellow in the grass"
	if code, body := post(t, s.url+"/auth/register/", map[string]string{"first_name": "Emily", "last_name": "Dickinson",
		"email": email, "phone_no": "+14155550133", "password": password}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": "not the password"}); code != 401 ||
		body["detail"] != "No active account found with the given credentials" {
		t.Fatalf("a wrong password: %d %v, want the usual 401", code, body)
	}
	code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": password})
	if code != 403 || body["code"] != "email_not_verified" || body["detail"] != "Email address is not verified." || body["access"] != nil {
		t.Fatalf("the right password, unverified: %d %v, want 403 email_not_verified", code, body)
	}
	otp := authtest.Code(t, smtp.WaitFor(1)[0])
	if code, body := post(t, s.url+"/auth/email/verify/", map[string]string{"email": email, "otp": otp}); code != 200 {
		t.Fatalf("verify the email: %d %v", code, body)
	}
	if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": password}); code != 200 || body["access"] == nil {
		t.Fatalf("the right password, verified: %d %v", code, body)
	}
}

// A value AUTH_EMAIL_VERIFICATION does not know stops start-up with one line naming the setting
// (as the flag, when given as one) and the values it takes.
func TestUnknownEmailVerificationModeStopsStartup(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	err := startFails(t, map[string]string{"AUTH_DATABASE_URL": db, "AUTH_EMAIL_VERIFICATION": "yes"})
	oneLineError(t, err, "AUTH_EMAIL_VERIFICATION: ", "want send, required or off", `"yes"`)
	err = startFails(t, map[string]string{"AUTH_DATABASE_URL": db}, "-email-verification", "Required")
	oneLineError(t, err, "-email-verification: ", "want send, required or off", `"Required"`)
	for mode, want := range map[string]auth.EmailVerification{"": auth.VerificationSend, "send": auth.VerificationSend, "required": auth.VerificationRequired, "off": auth.VerificationOff} {
		c, err := loadConfig(nil, envOf(map[string]string{"AUTH_EMAIL_VERIFICATION": mode}), &bytes.Buffer{})
		if err != nil || c.EmailVerification != want {
			t.Errorf("AUTH_EMAIL_VERIFICATION=%q: %q, %v; want %q", mode, c.EmailVerification, err, want)
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, listEnv(nil), &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h = %v", err)
	}
	for _, s := range settings() {
		if !strings.Contains(out.String(), s.env) || !strings.Contains(out.String(), "-"+flagName(s.env)) {
			t.Errorf("-h does not list %s", s.env)
		}
	}
	if !strings.Contains(out.String(), "default 5m") {
		t.Error("-h does not show defaults")
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := loadConfig([]string{"-access-ttl", "2m"}, envOf(map[string]string{"AUTH_ACCESS_TTL": "9m", "AUTH_REFRESH_TTL": "1h"}), &bytes.Buffer{})
	if err != nil || c.AccessTTL != 2*time.Minute || c.RefreshTTL != time.Hour || c.Addr != "127.0.0.1:8000" {
		t.Fatalf("config %+v, %v", c, err)
	}
}

// In a container limited to fewer CPUs than the machine has, Go's GOMAXPROCS follows the limit;
// so do the hashes, or a 2-CPU container on a 64-core host would hash 64 passwords (1.2 GiB) at once.
func TestHashConcurrencyFollowsTheCPUsAuthdMayUse(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, err := loadConfig(nil, envOf(nil), &bytes.Buffer{})
	if err != nil || c.HashConcurrency != 1 {
		t.Fatalf("hash concurrency %d with one usable CPU (of %d on the machine), %v", c.HashConcurrency, runtime.NumCPU(), err)
	}
}

func TestGCSettingsYieldToTheOperators(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	tuneGC(func(string) string { return "" }, 2)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); pct != 400 || limit != 204<<20 {
		t.Fatalf("unset, two hashes at once: GOGC %d and limit %d MiB, want 400 and 204 MiB", pct, limit>>20)
	}
	tuneGC(func(string) string { return "" }, 32)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); pct != 400 || limit < 32*19<<20 {
		t.Fatalf("32 hashes at once: GOGC %d and limit %d MiB, below what the hashes hold", pct, limit>>20)
	}
	tuneGC(func(k string) string { return map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}[k] }, 2)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 100 || limit != math.MaxInt64 {
		t.Fatalf("set by the operator: GOGC %d and limit %d were changed", pct, limit)
	}
}
