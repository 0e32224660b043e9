package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkVerifyRequest is one POST /auth/token/verify/ through the whole handler stack
// (middleware, decoding, signature check, the user read on SQLite, logging), without a network.
func BenchmarkVerifyRequest(b *testing.B) {
	e := newEnv(b)
	e.register("bench@example.com")
	access, _ := e.login("bench@example.com", testPassword)
	h := e.handler
	body := `{"access_token":"` + access + `"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/token/verify/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRefreshRequest is one POST /auth/token/refresh/ through the whole stack, each
// rotating the chain the previous one made.
func BenchmarkRefreshRequest(b *testing.B) {
	e := newEnv(b)
	e.register("bench@example.com")
	_, refresh := e.login("bench@example.com", testPassword)
	h := e.handler
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/token/refresh/", strings.NewReader(`{"refresh_token":"`+refresh+`"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		refresh = between(rec.Body.String(), `"refresh":"`, `"`)
	}
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}
