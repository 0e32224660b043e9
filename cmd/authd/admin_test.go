package main

import (
	"context"
	"encoding/json"
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
