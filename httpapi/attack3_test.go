package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// docs/api.md, verify: "The scheme is Bearer, in any case, followed by the token; spaces around
// them do not matter. A header that holds no usable bearer token ... counts as no header at all."
// HTTP separates an auth-scheme from its credentials with SP (RFC 9110 §11.4; optional
// whitespace is SP and HTAB only); simplejwt splits the header's bytes on ASCII whitespace. authd
// splits on Unicode white space (strings.Fields), so "Bearer<U+00A0>token" and
// "Bearer<U+3000>token" verify: a header that a proxy, a WAF or a resource server parsing it the
// standard way sees as one opaque value (no Bearer token at all) is accepted here as one.
func TestAttack3VerifyBearerSplitsOnlyOnHTTPWhitespace(t *testing.T) {
	e := newEnv(t)
	e.register("nbsp@example.com")
	access, _ := e.login("nbsp@example.com", testPassword)
	want(t, e.do("POST", "/auth/token/verify/", "", "", "Authorization", "Bearer "+access), 200, `{}`)
	for name, sep := range map[string]string{"no-break space": "\u00a0", "ideographic space": "\u3000", "next line": "\u0085", "em space": "\u2003"} {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/auth/token/verify/", "", "", "Authorization", "Bearer"+sep+access)
			want(t, r, 400, `{"access_token":["This field is required."]}`)
		})
	}
}

// docs/api.md: preflights allow "the request headers Content-Type, Authorization and
// X-Request-ID". Header names are case-insensitive (RFC 9110 §5.1); a preflight that names them
// as the docs write them (Authorization, X-Request-ID) is refused: no Access-Control-Allow-Origin,
// no Access-Control-Allow-Headers. Browsers send the list lower-cased, so they are not hit; any
// other client following the docs' spelling is.
func TestAttack3PreflightHeaderNamesAreCaseInsensitive(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.CORSOrigins = []string{"https://app.example.com"} })
	for _, list := range []string{"authorization,content-type,x-request-id", "Authorization, Content-Type, X-Request-ID", "Authorization"} {
		req, _ := http.NewRequest("OPTIONS", e.url+"/auth/token/verify/", nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", list)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
		if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(allowed, "authorization") {
			t.Errorf("preflight asking for %q: Allow-Origin %q, Allow-Headers %q", list,
				res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Headers"))
		}
	}
}
