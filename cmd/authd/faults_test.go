package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
)

func health(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := res.Body.Read(buf)
	b.Write(buf[:n])
	return res.StatusCode, b.String()
}

// viaProxy points a database or Redis URL at proxy instead of its own host.
func viaProxy(t *testing.T, raw string, proxy *authtest.Proxy) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy.Addr
	return u.String()
}

func TestPostgresOutage(t *testing.T) {
	pg := authtest.PostgresURL(t)
	u, _ := url.Parse(pg)
	proxy := authtest.StartProxy(t, u.Host)
	node := cluster(t, 1, map[string]string{"AUTH_DATABASE_URL": viaProxy(t, pg, proxy), "AUTH_TRUSTED_PROXIES": "127.0.0.1/32",
		"AUTH_DB_STATEMENT_TIMEOUT": "2s"})[0]
	const password = "survives the outage"
	if code, _ := call(t, node.url+"/auth/register/", "", map[string]string{"first_name": "Pat", "last_name": "Down",
		"email": "pat@example.com", "phone_no": "+442071838790", "password": password}); code != 201 {
		t.Fatalf("register: %d", code)
	}
	_, pair := call(t, node.url+"/auth/token/", "", map[string]string{"email": "pat@example.com", "password": password})

	proxy.Cut()
	for _, req := range []struct{ path, field, value string }{
		{"/auth/token/refresh/", "refresh_token", pair["refresh"].(string)},
		{"/auth/token/verify/", "access_token", pair["access"].(string)},
	} {
		start := time.Now()
		code, body := call(t, node.url+req.path, "", map[string]string{req.field: req.value})
		if code != 503 || body["detail"] == "" || time.Since(start) > 5*time.Second {
			t.Fatalf("%s with the database down: %d %v after %v, want a quick 503\n%s", req.path, code, body, time.Since(start), node.logs.String())
		}
	}
	if code, body := health(t, node.url); code != 503 || !strings.Contains(body, `"database":"unavailable"`) {
		t.Fatalf("healthz with the database down: %d %s", code, body)
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := health(t, node.url); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("authd did not recover when the database came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing acknowledged was lost: the account and its sign-in are there.
	if code, body := call(t, node.url+"/auth/token/refresh/", "", map[string]string{"refresh_token": pair["refresh"].(string)}); code != 200 {
		t.Fatalf("refresh after recovery: %d %v", code, body)
	}
	if code, _ := call(t, node.url+"/auth/token/", "", map[string]string{"email": "pat@example.com", "password": password}); code != 200 {
		t.Fatalf("sign-in after recovery: %d", code)
	}
}

func TestRedisOutage(t *testing.T) {
	redis := authtest.RedisURL(t)
	u, _ := url.Parse(redis)
	proxy := authtest.StartProxy(t, u.Host)
	node := cluster(t, 1, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + t.TempDir() + "/a.db", "AUTH_REDIS_URL": viaProxy(t, redis, proxy),
		"AUTH_TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_IP_RATE_LIMIT": "5"})[0]
	if code, body := health(t, node.url); code != 200 || !strings.Contains(body, `"redis":"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	proxy.Cut()
	client := "198.51.100.200"
	statuses := map[int]int{}
	for i := range 8 {
		code, _ := call(t, node.url+"/auth/token/", client, map[string]string{"email": "r" + string(rune('a'+i)) + "@example.com", "password": "x"})
		statuses[code]++
	}
	if statuses[401] != 5 || statuses[429] != 3 {
		t.Fatalf("with Redis down: %v, want 5 answered and 3 throttled by the in-memory limit", statuses)
	}
	if code, body := health(t, node.url); code != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"redis":"unavailable"`) {
		t.Fatalf("healthz with Redis down: %d %s", code, body)
	}
	if !strings.Contains(node.logs.String(), `"event":"redis_down"`) {
		t.Error("the outage was not logged")
	}
	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := health(t, node.url)
		if strings.Contains(body, `"status":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back, healthz still %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
