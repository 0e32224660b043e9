package httpapi_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/authd/authd/authtest"
)

// endpoint is a POST endpoint that reads a body: every field it reads (aliases included) and a
// body of well-formed values for them.
type endpoint struct {
	name   string
	path   string
	fields []string
	body   func() map[string]string
}

// canonical is the name a field's problems are reported under (an alias reports as its field).
func canonical(field string) string {
	switch field {
	case "refresh":
		return "refresh_token"
	case "token":
		return "access_token"
	}
	return field
}

// with returns b with field set to v; an alias replaces its field, so that the alias is read.
func with(b map[string]string, field, v string) map[string]string {
	out := map[string]string{}
	for k, x := range b {
		out[k] = x
	}
	delete(out, canonical(field))
	out[field] = v
	return out
}

var fieldSeq int

// endpoints lists every endpoint that reads a body. Register's body has no password (so that
// hostile names reach the store without a password hash) and a fresh email and phone each time.
func endpoints() []endpoint {
	fresh := func() string { fieldSeq++; return fmt.Sprintf("text%d@example.com", fieldSeq) }
	return []endpoint{
		{"register", "/auth/register/", []string{"first_name", "last_name", "address", "email", "phone_no", "password"},
			func() map[string]string {
				return map[string]string{"first_name": "Ada", "last_name": "Lovelace", "address": "12 St James's Square",
					"email": fresh(), "phone_no": newPhone()}
			}},
		{"token", "/auth/token/", []string{"email", "password", "phone_number"},
			func() map[string]string {
				return map[string]string{"email": "text@example.com", "password": testPassword, "phone_number": "+44 20 7183 8750"}
			}},
		{"refresh", "/auth/token/refresh/", []string{"refresh_token", "refresh"},
			func() map[string]string { return map[string]string{"refresh_token": "not.a.token"} }},
		{"verify", "/auth/token/verify/", []string{"access_token", "token"},
			func() map[string]string { return map[string]string{"access_token": "not.a.token"} }},
		{"logout", "/auth/logout/", []string{"refresh_token", "refresh"},
			func() map[string]string { return map[string]string{"refresh_token": "not.a.token"} }},
		{"reset", "/auth/password/reset/", []string{"email"},
			func() map[string]string { return map[string]string{"email": "text@example.com"} }},
		{"reset verify", "/auth/password/reset/verify/", []string{"email", "otp"},
			func() map[string]string { return map[string]string{"email": "text@example.com", "otp": "123456"} }},
		{"reset confirm", "/auth/password/reset/confirm/", []string{"email", "otp", "password"},
			func() map[string]string {
				return map[string]string{"email": "text@example.com", "otp": "123456", "password": testPassword}
			}},
		{"social", "/auth/social/google-oauth2/", []string{"access_code"},
			func() map[string]string { return map[string]string{"access_code": "4/0Anot-a-code"} }},
	}
}

// encoding turns a body into a Content-Type and the bytes of a request in that media type.
type encoding struct {
	name   string
	encode func(b map[string]string) (contentType, body string)
}

var encodings = []encoding{
	{"json", func(b map[string]string) (string, string) { return "application/json", jsonObject(b) }},
	{"form", func(b map[string]string) (string, string) { return "application/x-www-form-urlencoded", formBody(b) }},
	{"multipart", multipartBody},
}

// jsonObject writes b as a JSON object whose strings hold b's bytes as they are, even when they
// are not valid UTF-8 (encoding/json would replace those).
func jsonObject(b map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(b) {
		parts = append(parts, jsonString(k)+":"+jsonString(b[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func jsonString(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

func formBody(b map[string]string) string {
	vals := url.Values{}
	for k, v := range b {
		vals.Set(k, v)
	}
	return vals.Encode()
}

func multipartBody(b map[string]string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range sortedKeys(b) {
		mw.WriteField(k, b[k])
	}
	mw.Close()
	return mw.FormDataContentType(), buf.String()
}

func sortedKeys(b map[string]string) []string {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestNullCharactersAreRefusedInEveryField(t *testing.T) {
	e := newEnv(t, withGoogle)
	for _, ep := range endpoints() {
		for _, f := range ep.fields {
			for _, enc := range encodings {
				t.Run(ep.name+"/"+f+"/"+enc.name, func(t *testing.T) {
					b := ep.body()
					ct, body := enc.encode(with(b, f, "x\x00"+b[canonical(f)]))
					want(t, e.do("POST", ep.path, ct, body), 400, fmt.Sprintf(`{%q:["Null characters are not allowed."]}`, canonical(f)))
				})
			}
		}
	}
	t.Run("with other problems of the same field", func(t *testing.T) {
		r := e.post("/auth/token/", obj{"email": strings.Repeat("a", 300) + "\x00", "password": "x"})
		want(t, r, 400, `{"email":["Ensure this field has no more than 254 characters.","Null characters are not allowed."]}`)
	})
	t.Run("registration reports the other fields too", func(t *testing.T) {
		r := e.post("/auth/register/", obj{"first_name": "A\x00", "last_name": "B", "email": "not an email", "phone_no": newPhone()})
		want(t, r, 400, `{"first_name":["Null characters are not allowed."],"email":["Enter a valid email address."]}`)
	})
	if n := e.userCount(); n != 0 {
		t.Errorf("%d users made from bodies holding NUL", n)
	}
}

const notUTF8 = `{"detail":"Form data is not valid UTF-8."}`

func TestFormBodiesThatAreNotUTF8(t *testing.T) {
	e := newEnv(t, withGoogle)
	const form = "application/x-www-form-urlencoded"
	for _, ep := range endpoints() {
		for _, f := range ep.fields {
			t.Run(ep.name+"/"+f, func(t *testing.T) {
				b := ep.body()
				bad := with(b, f, b[canonical(f)]+"\xff")
				// Escaped (%FF), as a browser sends a Latin-1 form.
				want(t, e.do("POST", ep.path, form, formBody(bad)), 400, notUTF8)
				// The raw byte, unescaped.
				raw := strings.ReplaceAll(formBody(with(b, f, b[canonical(f)]+"~~")), "~~", "\xff")
				want(t, e.do("POST", ep.path, form, raw), 400, notUTF8)
				// A multipart part.
				ct, body := multipartBody(bad)
				want(t, e.do("POST", ep.path, ct, body), 400, notUTF8)
			})
		}
	}
	t.Run("a field no endpoint reads", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", form, "email=a%40b.co&password=x&junk=%C3%28"), 400, notUTF8)
	})
	t.Run("a field name", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", form, "email=a%40b.co&password=x&%E9t%E9=1"), 400, notUTF8)
	})
	t.Run("an encoded surrogate", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", form, "email=a%40b.co&password=%ED%A0%80"), 400, notUTF8)
	})
	t.Run("valid UTF-8 passes", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", form, "email=%C3%A9@b.co&password=%F0%9F%98%80"), 401, noAccount)
	})
}

func TestJSONThatIsNotUTF8(t *testing.T) {
	e := newEnv(t, withGoogle)
	t.Run("invalid bytes in a string", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", "{\"email\":\"a\xffb@example.com\",\"password\":\"x\"}"),
			400, `{"detail":"JSON parse error - invalid UTF-8 (at byte 12)"}`)
	})
	t.Run("invalid bytes in a field no endpoint reads", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", "{\"junk\":\"\xc0\x80\"}"),
			400, `{"detail":"JSON parse error - invalid UTF-8 (at byte 10)"}`)
	})
	t.Run("an encoded surrogate", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", "{\"password\":\"\xed\xa0\x80\",\"email\":\"a@b.co\"}"),
			400, `{"detail":"JSON parse error - invalid UTF-8 (at byte 14)"}`)
	})
	for _, ep := range endpoints() {
		for _, f := range ep.fields {
			t.Run("lone surrogate escape/"+ep.name+"/"+f, func(t *testing.T) {
				b := ep.body()
				body := strings.Replace(jsonObject(with(b, f, "~~"+b[canonical(f)])), "~~", `\ud800`, 1)
				want(t, e.do("POST", ep.path, "application/json", body), 400,
					fmt.Sprintf(`{%q:["Surrogate characters are not allowed: U+D800."]}`, canonical(f)))
			})
		}
	}
	t.Run("a low surrogate alone, and a high one before a non-surrogate escape", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", `{"email":"a\udc00@b.co","password":"\ud83d\u0041"}`), 400,
			`{"email":["Surrogate characters are not allowed: U+DC00."],"password":["Surrogate characters are not allowed: U+D83D."]}`)
	})
	t.Run("a surrogate pair is a character", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", `{"email":"a@b.co","password":"\ud83d\ude00 \uD83D\uDE00"}`), 401, noAccount)
	})
	t.Run("escaped backslash before u", func(t *testing.T) {
		want(t, e.do("POST", "/auth/token/", "application/json", `{"email":"a@b.co","password":"\\ud800"}`), 401, noAccount)
	})
}

func TestNamesRefuseControlCharacters(t *testing.T) {
	e := newEnv(t)
	const refused = `{%q:["This field may not contain control characters."]}`
	n := 0
	reg := func(field, value string) response {
		t.Helper()
		n++
		b := obj{"first_name": "Ada", "last_name": "Lovelace", "email": fmt.Sprintf("ctl%d@example.com", n), "phone_no": newPhone()}
		b[field] = value
		return e.post("/auth/register/", b)
	}
	for _, tt := range []struct{ name, value string }{
		{"line feed", "Ada\nLovelace"}, {"carriage return", "Ada\rX"}, {"tab", "Ada\tLovelace"},
		{"escape", "Ada\x1b[31m"}, {"DEL", "Ada\x7f"}, {"C1 NEL", "Ada\u0085x"}, {"C1 CSI", "Ada\u009b"},
		{"arabic letter mark", "Ada\u061c"}, {"left-to-right mark", "\u200eAda"}, {"right-to-left mark", "Ada\u200f"},
		{"right-to-left override", "Ada\u202eecalevol"}, {"left-to-right embedding", "\u202aAda"}, {"pop directional formatting", "Ada\u202c"},
		{"right-to-left isolate", "Ada\u2067x"}, {"first strong isolate", "\u2068Ada"}, {"pop directional isolate", "Ada\u2069"},
	} {
		for _, field := range []string{"first_name", "last_name"} {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				want(t, reg(field, tt.value), 400, fmt.Sprintf(refused, field))
			})
		}
	}
	t.Run("address refuses controls other than line breaks", func(t *testing.T) {
		want(t, reg("address", "12 St James's Square\x1b]0;pwned\x07"), 400, fmt.Sprintf(refused, "address"))
		want(t, reg("address", "12 St James's\tSquare"), 400, fmt.Sprintf(refused, "address"))
		want(t, reg("address", "12 St James's Square\r\nLondon\nSW1Y 4JH"), 201, `{"detail":"User created successfully"}`)
		want(t, reg("address", "\u202bشارع 12\u202c, London"), 201, `{"detail":"User created successfully"}`)
	})
	t.Run("letters of any script, marks and joiners pass", func(t *testing.T) {
		want(t, reg("first_name", "Zoë Ǆ 李 👩\u200d💻 e\u0301"), 201, `{"detail":"User created successfully"}`)
	})
	t.Run("all fields are reported together", func(t *testing.T) {
		r := e.post("/auth/register/", obj{"first_name": "A\nB", "last_name": "C\u202e", "email": "x", "phone_no": "x"})
		want(t, r, 400, `{"first_name":["This field may not contain control characters."],"last_name":["This field may not contain control characters."],`+
			`"email":["Enter a valid email address."],"phone_no":["Enter a valid phone number."]}`)
	})
}

func TestSocialCredentialsWithControlCharacters(t *testing.T) {
	e := newEnv(t, withGoogle)
	for _, code := range []string{"4/0Aab\ncd", "ya29.a\rb", "4/0A\x1b[2J", "4/0A\x7f", "4/0A\tb", "4/0A\u0085x", "4/0A\u202e"} {
		want(t, e.social(code), 400, googleRejected)
	}
	if n := len(e.google.Exchanges()); n != 0 {
		t.Errorf("%d of them were sent to Google", n)
	}
}

// TestGoogleProfilesWithControlCharacters signs in with Google profiles whose names and
// subject hold characters the contract keeps out of the store.
func TestGoogleProfilesWithControlCharacters(t *testing.T) {
	e := newEnv(t, withGoogle)
	for i, u := range []authtest.GoogleUser{
		{Sub: "2001", Email: "nul1@gmail.com", EmailVerified: true, GivenName: "Ma\x00rie", FamilyName: "Curie"},
		{Sub: "2002", Email: "nul2@gmail.com", EmailVerified: true, GivenName: "Marie", FamilyName: "Cu\x00rie"},
		{Sub: "2003", Email: "nul3@gmail.com", EmailVerified: true, Name: "Ma\x00rie Curie"},
		{Sub: "2004", Email: "ctl@gmail.com", EmailVerified: true, GivenName: "Ma\nrie", FamilyName: "Cu\u202eeiruc"},
		{Sub: "20\x0005", Email: "sub@gmail.com", EmailVerified: true, GivenName: "Marie", FamilyName: "Curie"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := e.social(e.google.IDToken(u, nil))
			if r.status >= 500 {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			var first, last string
			e.store.DB().QueryRow(`SELECT first_name, last_name FROM users WHERE email = $1`, u.Email).Scan(&first, &last)
			if controlled(first) || controlled(last) {
				t.Errorf("stored name %q %q holds control characters", first, last)
			}
		})
	}
}

// controlled reports whether s holds a character the contract keeps out of names: Unicode
// category Cc, or a bidirectional control.
func controlled(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x61c || r == 0x200e || r == 0x200f ||
			r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	})
}
