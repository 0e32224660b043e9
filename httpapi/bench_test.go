package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// signedInMany registers an account, signs it in n times, each from a browser of its own, and
// returns the handler and the access token of the last sign-in. others is how many refresh
// tokens of other accounts (live for a year, in others/10 sign-ins) the store holds besides.
func signedInMany(b *testing.B, n, others int) (http.Handler, string) {
	e := newEnv(b)
	if others > 0 {
		if err := e.store.Seed(context.Background(), max(1, others/100), others, nil); err != nil {
			b.Fatal(err)
		}
	}
	e.register("bench@example.com")
	body := `{"email":"bench@example.com","password":"` + testPassword + `"}`
	var access string
	for i := range n {
		agent := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", 100+i)
		r := e.do("POST", "/auth/token/", "application/json", body, "User-Agent", agent)
		if r.status != 200 || r.str("access") == "" {
			b.Fatalf("sign-in %d: %d %s", i, r.status, r.raw)
		}
		access = r.str("access")
	}
	return e.handler, access
}

// signedInGet serves one GET of path signed in with access, without a network.
func signedInGet(h http.Handler, path, access string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkMeRequest is one GET /auth/me/ through the whole stack, for an account with 100
// live sign-ins: what a verify does (the token checked, its sign-in's standing read) and the
// profile's one read.
func BenchmarkMeRequest(b *testing.B) {
	h, access := signedInMany(b, 100, 0)
	if rec := signedInGet(h, "/auth/me/", access); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"email":"bench@example.com"`) {
		b.Fatalf("%d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := signedInGet(h, "/auth/me/", access); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkSessionsRequest is one GET /auth/sessions/ through the whole stack, listing an
// account's 100 live sign-ins, in a store that holds nothing else and in one that holds other
// accounts' refresh tokens too: the list's cost should not grow with them.
func BenchmarkSessionsRequest(b *testing.B) {
	for _, others := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) { benchmarkSessions(b, others) })
	}
}

func benchmarkSessions(b *testing.B, others int) {
	h, access := signedInMany(b, 100, others)
	rec := signedInGet(h, "/auth/sessions/", access)
	var list []struct {
		UserAgent string `json:"user_agent"`
		Current   bool   `json:"current"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); rec.Code != 200 || err != nil || len(list) != 100 || !list[0].Current ||
		!strings.Contains(list[0].UserAgent, "Chrome/199.") {
		b.Fatalf("%d %d sign-ins listed (%v), want 100, the newest first and current: %.300s", rec.Code, len(list), err, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := signedInGet(h, "/auth/sessions/", access); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

// BenchmarkLoginRequest is a whole password sign-in (with the test's cheap hasher, so the store's
// work, the audit row included, is what it weighs).
func BenchmarkLoginRequest(b *testing.B) {
	e := newEnv(b)
	e.register("bench@example.com")
	h := e.handler
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/token/", strings.NewReader(`{"email":"bench@example.com","password":"`+testPassword+`"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
