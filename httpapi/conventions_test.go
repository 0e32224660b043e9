package httpapi_test

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
)

func TestBothSlashFormsAnswer(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/auth/token/verify/", "/auth/token/verify", "/auth/password/reset/verify", "/auth/password/reset/verify/"} {
		r := e.do("POST", path, "application/json", `{}`)
		if r.status != 400 {
			t.Errorf("POST %s: %d %s, want 400 (served, field required)", path, r.status, r.raw)
		}
	}
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/jwks.json/", "/healthz", "/healthz/", "/livez", "/livez/", "/readyz", "/readyz/"} {
		if r := e.do("GET", path, "", ""); r.status != 200 {
			t.Errorf("GET %s: %d %s, want 200", path, r.status, r.raw)
		}
	}
}

func TestFormAndMultipartBodies(t *testing.T) {
	e := newEnv(t)
	e.register("form@example.com")
	r := e.do("POST", "/auth/token", "application/x-www-form-urlencoded", "email=form%40example.com&password="+strings.ReplaceAll(testPassword, " ", "+"))
	if r.status != 200 || r.str("access") == "" {
		t.Fatalf("form login: %d %s", r.status, r.raw)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("email", "form@example.com")
	mw.WriteField("password", testPassword)
	mw.Close()
	r = e.do("POST", "/auth/token/", mw.FormDataContentType(), buf.String())
	if r.status != 200 || r.str("refresh") == "" {
		t.Fatalf("multipart login: %d %s", r.status, r.raw)
	}
}

func TestRequestProblems(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"unsupported media type", "text/plain", "hello", 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"truncated JSON", "application/json", `{"email":`, 400, `{"detail":"JSON parse error - unexpected end of JSON input"}`},
		{"list body", "application/json", `[1,2]`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"string body", "application/json", `"x"`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
		{"number body", "application/json", `12`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}`},
		{"null body", "application/json", `null`, 400, `{"non_field_errors":["No data provided"]}`},
		{"empty body", "application/json", ``, 400, `{"email":["This field is required."],"password":["This field is required."]}`},
		{"null, blank, not a string", "application/json", `{"email":null,"password":"   ","phone_number":7}`, 400,
			`{"email":["This field may not be null."],"password":["This field may not be blank."],"phone_number":["Not a valid string."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want(t, e.do("POST", "/auth/token/", tt.contentType, tt.body), tt.status, tt.want)
		})
	}
	t.Run("JSON parse error names the reason", func(t *testing.T) {
		r := e.do("POST", "/auth/token/", "application/json", `{"email" "x"}`)
		if r.status != 400 || !strings.HasPrefix(r.str("detail"), "JSON parse error - ") {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		big := `{"email":"` + strings.Repeat("a", 70<<10) + `"}`
		if r := e.do("POST", "/auth/token/", "application/json", big); r.status != 413 || r.str("detail") == "" {
			t.Fatalf("got %d %s, want 413 with a detail", r.status, r.raw)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/auth/token/", "", "")
	want(t, r, 405, `{"detail":"Method \"GET\" not allowed."}`)
	if got := r.header.Get("Allow"); got != "POST, OPTIONS" {
		t.Errorf("Allow = %q, want %q", got, "POST, OPTIONS")
	}
	r = e.do("DELETE", "/auth/register", "", "")
	want(t, r, 405, `{"detail":"Method \"DELETE\" not allowed."}`)
	r = e.do("POST", "/healthz", "application/json", "{}")
	if r.status != 405 || r.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("POST /healthz: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestUnknownPathsAndSocialAnswerNotFound(t *testing.T) {
	e := newEnv(t)
	want(t, e.do("GET", "/nope", "", ""), 404, `{"detail":"Not found."}`)
	want(t, e.do("POST", "/auth/social/google-oauth2/", "application/json", `{"access_code":"x"}`), 404, `{"detail":"Not found."}`)
}

func TestResponsesAreNotCached(t *testing.T) {
	e := newEnv(t)
	e.register("cache@example.com")
	r := e.post("/auth/token/", obj{"email": "cache@example.com", "password": testPassword})
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("token response Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-ID on the response")
	}
}

func TestInternalErrorsStayInside(t *testing.T) {
	e := newEnv(t)
	e.store.Close() // the database is gone
	r := e.post("/auth/register/", obj{"first_name": "A", "last_name": "B", "email": "x@example.com", "phone_no": newPhone()})
	want(t, r, 500, `{"detail":"A server error occurred."}`)
	if !strings.Contains(e.logs.String(), "request failed") {
		t.Error("the cause was not logged")
	}
	h := e.do("GET", "/healthz", "", "")
	if h.status != 503 || h.str("status") != "unavailable" {
		t.Fatalf("healthz with the database closed: %d %s", h.status, h.raw)
	}
}
