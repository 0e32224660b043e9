package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

const (
	appOrigin  = "https://app.example.com"
	evilOrigin = "https://evil.example.com"
)

// preflight sends the OPTIONS a browser sends before a POST with a bearer token and a JSON body.
func preflight(t *testing.T, e *env, path, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("OPTIONS", e.url+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// exposed is the set of header names an answer lets browser code read, canonicalized.
func exposed(h http.Header) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Values("Access-Control-Expose-Headers") {
		for _, name := range strings.Split(v, ",") {
			out[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	return out
}

// allowedHeaders is the set of request headers a preflight answer allows, lowercased.
func allowedHeaders(h http.Header) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Values("Access-Control-Allow-Headers") {
		for _, name := range strings.Split(v, ",") {
			out[strings.ToLower(strings.TrimSpace(name))] = true
		}
	}
	return out
}

// checkAllowed fails unless an actual answer lets browser code at origin read it, and read its
// Retry-After and X-Request-ID.
func checkAllowed(t *testing.T, r response, wantOrigin string) {
	t.Helper()
	if got := r.header.Get("Access-Control-Allow-Origin"); got != wantOrigin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, wantOrigin)
	}
	if got := exposed(r.header); !got["Retry-After"] || !got["X-Request-Id"] {
		t.Errorf("Access-Control-Expose-Headers %q, want Retry-After and X-Request-ID", r.header.Values("Access-Control-Expose-Headers"))
	}
}

func TestCORSForAConfiguredOrigin(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.opts.CORSOrigins = []string{appOrigin}
		e.cfg.IPRateLimit = 1
	})
	t.Run("preflight from the origin allows Authorization", func(t *testing.T) {
		res := preflight(t, e, "/auth/token/verify/", appOrigin)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != appOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, appOrigin)
		}
		if got := allowedHeaders(res.Header); !got["authorization"] || !got["content-type"] {
			t.Errorf("Access-Control-Allow-Headers %q, want authorization and content-type", res.Header.Values("Access-Control-Allow-Headers"))
		}
		if got := res.Header.Get("Access-Control-Allow-Methods"); got != "POST" {
			t.Errorf("Access-Control-Allow-Methods %q, want POST", got)
		}
	})
	t.Run("preflight from another origin is refused", func(t *testing.T) {
		res := preflight(t, e, "/auth/token/verify/", evilOrigin)
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods"} {
			if got := res.Header.Get(h); got != "" {
				t.Errorf("%s %q for a refused origin", h, got)
			}
		}
	})
	t.Run("answer to the origin exposes Retry-After and X-Request-ID", func(t *testing.T) {
		r := e.do("POST", "/auth/token/verify/", "application/json", `{}`, "Origin", appOrigin)
		want(t, r, 400, `{"access_token":["This field is required."]}`)
		checkAllowed(t, r, appOrigin)
		if r.header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-ID to read")
		}
	})
	t.Run("a throttled answer's Retry-After is readable", func(t *testing.T) {
		body := `{"email":"cors@example.com","password":"wrong password"}`
		e.do("POST", "/auth/token/", "application/json", body, "Origin", appOrigin)
		r := e.do("POST", "/auth/token/", "application/json", body, "Origin", appOrigin)
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("second sign-in from one address with a limit of 1: %d %s, Retry-After %q", r.status, r.raw, r.header.Get("Retry-After"))
		}
		checkAllowed(t, r, appOrigin)
	})
	t.Run("answer to another origin carries no CORS header", func(t *testing.T) {
		r := e.do("POST", "/auth/token/verify/", "application/json", `{}`, "Origin", evilOrigin)
		want(t, r, 400, `{"access_token":["This field is required."]}`) // served; the browser withholds it
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Expose-Headers"} {
			if got := r.header.Get(h); got != "" {
				t.Errorf("%s %q for a refused origin", h, got)
			}
		}
	})
}

func TestCORSForAnyOrigin(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.CORSOrigins = []string{"*"} }) // AUTH_CORS_ORIGINS=*
	for _, origin := range []string{appOrigin, evilOrigin, "http://localhost:5173"} {
		t.Run(origin, func(t *testing.T) {
			res := preflight(t, e, "/auth/token/refresh/", origin)
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("preflight Access-Control-Allow-Origin %q, want *", got)
			}
			if got := allowedHeaders(res.Header); !got["authorization"] {
				t.Errorf("preflight Access-Control-Allow-Headers %q, want authorization", res.Header.Values("Access-Control-Allow-Headers"))
			}
			if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials %q: authd uses no cookies", got)
			}
			checkAllowed(t, e.do("GET", "/healthz", "", "", "Origin", origin), "*")
		})
	}
}

func TestCORSIsOffByDefault(t *testing.T) {
	e := newEnv(t)
	res := preflight(t, e, "/auth/token/", appOrigin)
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight with no origin configured: Access-Control-Allow-Origin %q", got)
	}
	r := e.do("POST", "/auth/token/verify/", "application/json", `{}`, "Origin", appOrigin)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("answer with no origin configured: Access-Control-Allow-Origin %q", got)
	}
}
