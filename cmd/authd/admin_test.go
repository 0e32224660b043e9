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
	go func() { done <- run(ctx, nil, func(k string) string { return s.env[k] }, listEnv(s.env), s.logs, s.logs) }()
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
