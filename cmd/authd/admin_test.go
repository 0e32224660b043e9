package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/authd/authd/authtest"
)

const testAdminToken = "0123456789abcdef0123456789abcdef-admin"

// testDatabaseURL is a new database: a SQLite file, or with AUTH_TEST_STORE=postgres a schema of
// its own on AUTH_TEST_POSTGRES_URL.
func testDatabaseURL(t *testing.T) string {
	if os.Getenv("AUTH_TEST_STORE") == "postgres" {
		return authtest.PostgresURL(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "authd.db")
}

func TestAdminSettingsAreChecked(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"AUTH_ADMIN_ADDR": "127.0.0.1:0"}, "AUTH_ADMIN_TOKEN: required with AUTH_ADMIN_ADDR"},
		{map[string]string{"AUTH_ADMIN_ADDR": "127.0.0.1:0", "AUTH_ADMIN_TOKEN": "short-secret-token"}, "AUTH_ADMIN_TOKEN: want at least 32 characters"},
	} {
		_, _, err := runCmd(t, c.vars)
		oneLineError(t, err, c.want)
		if strings.Contains(err.Error(), "short-secret-token") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	_, _, err := runCmd(t, nil, "-admin-addr", "127.0.0.1:0")
	oneLineError(t, err, "AUTH_ADMIN_TOKEN: required with -admin-addr")
}

// adminServer is authd serving on free addresses until the test ends.
type adminServer struct {
	public, admin, db string
	logs              *authtest.Buffer
	env               map[string]string
}

func startServer(t *testing.T, extra map[string]string) *adminServer {
	t.Helper()
	s := &adminServer{public: freeAddr(t), admin: freeAddr(t), db: testDatabaseURL(t), logs: &authtest.Buffer{}}
	s.env = map[string]string{"AUTH_ADDR": s.public, "AUTH_DATABASE_URL": s.db, "AUTH_ADMIN_ADDR": s.admin,
		"AUTH_ADMIN_TOKEN": testAdminToken, "AUTH_EMAIL_VERIFICATION": "off"}
	for k, v := range extra {
		s.env[k] = v
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return s.env[k] }, listEnv(s.env), s.logs, s.logs)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("authd did not stop")
		}
		if strings.Contains(s.logs.String(), testAdminToken) {
			t.Error("the admin token reached the log")
		}
	})
	waitHealthy(t, "http://"+s.public, s.logs)
	return s
}

// adminGet sends GET path to the admin listener with token ("" for none).
func (s *adminServer) adminGet(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.admin+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestAdminListenerServesTheAdminAPIOnly(t *testing.T) {
	s := startServer(t, nil)
	if code, body := post(t, "http://"+s.public+"/auth/register/", map[string]string{"first_name": "Walt", "last_name": "Whitman",
		"email": "walt@example.com", "phone_no": "+14155550132", "password": "a walk in the park"}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	code, body := s.adminGet(t, "/admin/users", testAdminToken)
	var page struct {
		Results []map[string]any `json:"results"`
		Next    *string          `json:"next"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Results) != 1 || page.Results[0]["email"] != "walt@example.com" || page.Next != nil {
		t.Fatalf("GET /admin/users: %d %s", code, body)
	}
	if code, _ := s.adminGet(t, "/admin/users", ""); code != 401 {
		t.Errorf("without the token: %d", code)
	}
	if code, _ := s.adminGet(t, "/admin/users", testAdminToken+"x"); code != 401 {
		t.Errorf("with a wrong token: %d", code)
	}
	req, _ := http.NewRequest("GET", "http://"+s.public+"/admin/users", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("the public listener answers /admin/users: %d", res.StatusCode)
	}
	if !strings.Contains(s.logs.String(), `"msg":"admin request refused"`) {
		t.Error("a refused admin request is not logged")
	}
}

// scrape reads /metrics from the admin listener and returns each sample's value by its name and
// labels, as "name{k=v,...}" with the labels in order.
func (s *adminServer) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := s.adminGet(t, "/metrics", testAdminToken)
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsMoveAsRequestsAreMade(t *testing.T) {
	s := startServer(t, map[string]string{"AUTH_LOGIN_FAILURE_LIMIT": "2", "AUTH_IP_RATE_LIMIT": "0"})
	before := s.scrape(t)
	for _, name := range []string{"authd_password_hashes_in_flight{}", "authd_password_hashes_waiting{}", "authd_outbox_depth{}",
		"authd_outbox_oldest_age_seconds{}", "authd_store_errors_total{kind=query}", "authd_store_errors_total{kind=unavailable}",
		"authd_refresh_reuse_total{}", "authd_rate_limited_total{limit=login}", "authd_rate_limited_total{limit=codes}", "authd_rate_limited_total{limit=ip}"} {
		if _, ok := before[name]; !ok {
			t.Errorf("the scrape has no %s", name)
		}
	}
	base := "http://" + s.public
	post(t, base+"/auth/register/", map[string]string{"first_name": "Walt", "last_name": "Whitman",
		"email": "walt@example.com", "phone_no": "+14155550132", "password": "a walk in the park"})
	post(t, base+"/auth/token", map[string]string{"email": "walt@example.com", "password": "a walk in the park"})
	for range 3 {
		post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": "wrong password"})
	}
	post(t, base+"/auth/sessions/abc/", nil) // 401, under its route's pattern, not its path
	after := s.scrape(t)
	for key, delta := range map[string]float64{
		"authd_http_requests_total{route=/auth/register,status=201}":       1,
		"authd_http_requests_total{route=/auth/token,status=200}":          1,
		"authd_http_requests_total{route=/auth/token,status=401}":          2,
		"authd_http_requests_total{route=/auth/token,status=429}":          1,
		"authd_http_requests_total{route=/auth/sessions/{id},status=405}":  1,
		"authd_http_request_duration_seconds{route=/auth/token}_count":     4,
		"authd_sign_ins_total{method=password,outcome=success}":            1,
		"authd_sign_ins_total{method=password,outcome=failure}":            2,
		"authd_sign_ins_total{method=password,outcome=locked}":             1,
		"authd_rate_limited_total{limit=login}":                            1,
		"authd_http_requests_total{route=/metrics,status=200}":             1,
		"authd_http_requests_total{route=/admin/users,status=200}":         0,
		"authd_http_requests_total{route=/auth/password/reset,status=200}": 0,
	} {
		if got := after[key] - before[key]; got != delta {
			t.Errorf("%s moved by %v, want %v", key, got, delta)
		}
	}
	for key := range after {
		if strings.Contains(key, "route=/auth/sessions/abc") {
			t.Errorf("a raw path is a label: %s", key)
		}
	}
}

// cmd runs an authd command against the server's database and settings.
func (s *adminServer) cmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runCmd(t, s.env, args...)
	if err != nil && errOut != "" {
		t.Logf("authd %s: %s", strings.Join(args, " "), errOut)
	}
	return out, err
}

func TestUsersAndKeysCommandsWhileTheServerRuns(t *testing.T) {
	s := startServer(t, map[string]string{"AUTH_LOGIN_FAILURE_LIMIT": "2", "AUTH_KEY_RELOAD_INTERVAL": "100ms"})
	base := "http://" + s.public
	const password = "a walk in the park"
	post(t, base+"/auth/register/", map[string]string{"first_name": "Walt", "last_name": "Whitman",
		"email": "walt@example.com", "phone_no": "+14155550132", "password": password})
	signIn := func() (int, map[string]any) {
		return post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": password})
	}
	_, pair := signIn()

	out, err := s.cmd(t, "users", "list")
	if err != nil || !strings.Contains(out, "walt@example.com") || !strings.HasPrefix(out, "ID ") {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	out, err = s.cmd(t, "users", "list", "-json", "-search", "WHITMAN")
	var page struct {
		Results []map[string]any `json:"results"`
		Next    *string          `json:"next"`
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Results) != 1 || page.Next != nil || page.Results[0]["last_login"] == nil {
		t.Fatalf("users list -json: %v\n%s", err, out)
	}
	id := page.Results[0]["id"].(string)
	if _, err := s.cmd(t, "users", "list", "-limit", "0"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("users list -limit 0: %v", err)
	}
	if out, err = s.cmd(t, "users", "show", "WALT@example.com", "-json"); err != nil || !strings.Contains(out, `"id": "`+id+`"`) {
		t.Fatalf("users show -json by email: %v\n%s", err, out)
	}
	if out, err = s.cmd(t, "users", "show", id); err != nil || !strings.Contains(out, "active:") || !strings.Contains(out, "walt@example.com") {
		t.Fatalf("users show: %v\n%s", err, out)
	}
	if _, err := s.cmd(t, "users", "show", "nobody@example.com"); err == nil || err.Error() != `no account "nobody@example.com"` {
		t.Errorf("users show of nobody: %v", err)
	}
	if _, err := s.cmd(t, "users", "show"); err == nil {
		t.Error("users show without an account")
	}

	// disable: the tokens fail at once; enable brings them back.
	if _, err := s.cmd(t, "users", "disable", id); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, base+"/auth/token/verify/", map[string]string{"access_token": pair["access"].(string)}); code != 401 {
		t.Errorf("verify after disable: %d", code)
	}
	if _, err := s.cmd(t, "users", "enable", "walt@example.com"); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, base+"/auth/token/verify/", map[string]string{"access_token": pair["access"].(string)}); code != 200 {
		t.Errorf("verify after enable: %d", code)
	}
	// signout ends the sign-in.
	if _, err := s.cmd(t, "users", "signout", id); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, base+"/auth/token/refresh/", map[string]string{"refresh": pair["refresh"].(string)}); code != 401 {
		t.Errorf("refresh after signout: %d", code)
	}
	// unlock: a locked email signs in again.
	for range 3 {
		post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": "wrong"})
	}
	if code, _ := signIn(); code != 429 {
		t.Fatalf("locked: %d", code)
	}
	if _, err := s.cmd(t, "users", "unlock", id); err != nil {
		t.Fatal(err)
	}
	code, pair := signIn()
	if code != 200 {
		t.Fatalf("sign-in after unlock: %d", code)
	}

	// create, then delete.
	if out, err = s.cmd(t, "users", "create", "-email", "emily@example.com", "-first-name", "Emily", "-last-name", "Dickinson", "-phone", "+14155550133", "-json"); err != nil || !strings.Contains(out, `"has_password": false`) {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	if _, err := s.cmd(t, "users", "create", "-email", "emily@example.com", "-first-name", "E", "-last-name", "D", "-phone", "+14155550134"); err == nil ||
		err.Error() != "email: user with this email already exists." {
		t.Errorf("users create with a taken email: %v", err)
	}
	if out, err = s.cmd(t, "users", "delete", "emily@example.com"); err != nil || !strings.HasPrefix(out, "deleted ") {
		t.Fatalf("users delete: %v\n%s", err, out)
	}
	if _, err := s.cmd(t, "users", "show", "emily@example.com"); err == nil {
		t.Error("the deleted account is still there")
	}

	// keys: the only active signing key cannot be retired; after a rotation the old one can, and
	// its tokens are refused once the server has reloaded.
	out, err = s.cmd(t, "keys", "list", "-json")
	var keys []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 2 {
		t.Fatalf("keys list -json: %v\n%s", err, out)
	}
	oldKID := keys[0]["kid"].(string)
	if keys[0]["kind"] != "signing" || keys[0]["state"] != "signing" || keys[1]["kind"] != "refresh" {
		t.Fatalf("keys: %s", out)
	}
	if _, err := s.cmd(t, "keys", "retire", oldKID); err == nil || !strings.Contains(err.Error(), "only active signing key") {
		t.Fatalf("retiring the only signing key: %v", err)
	}
	if _, err := s.cmd(t, "keys", "retire", "no-such-kid"); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("retiring an unknown key: %v", err)
	}
	if _, err := s.cmd(t, "keys", "rotate", "-activate-after", "3s"); err != nil {
		t.Fatal(err)
	}
	// Until the new key has signed for a reload interval, some instance may still sign with the
	// old one: retiring it is refused, then allowed (the new key signs 3 s from now, and the
	// reload interval here is 100 ms).
	if _, err := s.cmd(t, "keys", "retire", oldKID); err == nil || !strings.Contains(err.Error(), "only active signing key") {
		t.Fatalf("retiring the old key at once: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out, err = s.cmd(t, "keys", "retire", oldKID); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.Contains(out, "retired signing key "+oldKID) {
		t.Fatalf("keys retire: %v\n%s", err, out)
	}
	if out, err = s.cmd(t, "keys", "list"); err != nil || !strings.Contains(out, "retired") {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := post(t, base+"/auth/token/verify/", map[string]string{"access_token": pair["access"].(string)})
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token of the retired key is still honoured: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := signIn(); code != 200 {
		t.Errorf("sign-in with the new key: %d", code)
	}
	if _, err := s.cmd(t, "keys", "retire", oldKID); err == nil || !strings.Contains(err.Error(), "was retired") {
		t.Errorf("retiring twice: %v", err)
	}
}

func TestAdminCommandsHaveTheirOwnHelp(t *testing.T) {
	for _, c := range adminCommands() {
		_, help, err := runCmd(t, nil, append(strings.Fields(c.words), "-h")...)
		if err == nil || !strings.Contains(help, "Usage: authd "+c.words) || !strings.Contains(help, "AUTH_DATABASE_URL") || strings.Contains(help, "(AUTH_ADDR") {
			t.Errorf("authd %s -h: %v\n%s", c.words, err, help)
		}
	}
}

// A key id is base64url and may start with "-": it is the command's argument, not a flag.
func TestParseArgsTakesADashedKeyID(t *testing.T) {
	fs := flag.NewFlagSet("authd keys retire", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	limit := fs.Int("limit", 0, "")
	rest, err := parseArgs(fs, []string{"-i_Tn1OS-QuHE", "-json", "-limit", "3"}, 1, "KID")
	if err != nil || len(rest) != 1 || rest[0] != "-i_Tn1OS-QuHE" || !*asJSON || *limit != 3 {
		t.Fatalf("parseArgs: %v %v json=%v limit=%d", rest, err, *asJSON, *limit)
	}
	if _, err := parseArgs(fs, []string{"-h"}, 1, "KID"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}
