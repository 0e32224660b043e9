package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDecode(f *testing.F) {
	fields := []field{
		{name: "email", required: true},
		{name: "password", required: true, raw: true},
		{name: "address", nullBlank: true},
		{name: "refresh_token", alias: "refresh"},
	}
	seeds := []struct{ ct, body string }{
		{"application/json", `{"email":"a@b.co","password":"pw","address":null,"refresh":"x"}`},
		{"application/json", `{"email":`},
		{"application/json", `[1,{"a":2}]`},
		{"application/json", `null`},
		{"application/json", `{"email":1e999,"password":true}`},
		{"application/json", "{\"email\":\"\xff\"}"},
		{"application/json", `{"email":"a\u0000b","password":"\ud800","refresh":"\ud83d\ude00\udc00"}`},
		{"application/x-www-form-urlencoded", "email=%00&password=%ff"},
		{"application/x-www-form-urlencoded", "email=a%40b.co&password=x&password=y"},
		{"application/x-www-form-urlencoded", "%zz=1"},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--X--\r\n"},
		{"text/plain", "hi"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest("POST", "/auth/token/", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		in, err := decode(httptest.NewRecorder(), r, fields)
		if err != nil {
			re, ok := err.(*requestError)
			if !ok || re.status < 400 || re.status > 499 {
				t.Fatalf("decode error %v is not a 4xx request error", err)
			}
			return
		}
		// A value with a NUL is kept for the rules to judge its length, always with its problem.
		for name, v := range in.values {
			if !utf8.ValidString(v) {
				t.Fatalf("%s decoded as %q", name, v)
			}
			if _, reported := in.errs[name]; strings.ContainsRune(v, 0) && !reported {
				t.Fatalf("%s accepted as %q", name, v)
			}
		}
		for _, f := range fields {
			if f.required && !in.present[f.name] && len(in.errs[f.name]) == 0 {
				t.Fatalf("required %s neither present nor reported", f.name)
			}
		}
	})
}

func TestResolveClientIP(t *testing.T) {
	trusted := mustPrefixes("10.0.0.0/8", "127.0.0.1/32")
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},                        // untrusted peer: header ignored
		{"127.0.0.1:1234", "198.51.100.7", "198.51.100.7"},                    // trusted proxy
		{"127.0.0.1:1234", "6.6.6.6, 198.51.100.7, 10.1.1.1", "198.51.100.7"}, // skips trusted hops only
		{"127.0.0.1:1234", "garbage", "127.0.0.1"},
		{"127.0.0.1:1234", "", "127.0.0.1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := resolveClientIP(r, trusted); got != tt.want {
			t.Errorf("remote %s XFF %q: got %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestLoneSurrogate(t *testing.T) {
	tests := []struct {
		lit  string
		want rune // 0: none
	}{
		{`"plain"`, 0},
		{`"\ud83d\ude00"`, 0},
		{`"\uD83D\uDE00 and \u00e9"`, 0},
		{`"\ud800"`, 0xd800},
		{`"x\udfff"`, 0xdfff},
		{`"\ud800\ud800"`, 0xd800},
		{`"\ud83d\u0041"`, 0xd83d},
		{`"\ude00\ud83d"`, 0xde00},
		{`"\ud83d\ude00\udc00"`, 0xdc00},
		{`"\\ud800"`, 0},
		{`"\\\ud800"`, 0xd800},
		{`"\"\ud800"`, 0xd800},
	}
	for _, tt := range tests {
		r, found := loneSurrogate([]byte(tt.lit))
		if found != (tt.want != 0) || r != tt.want {
			t.Errorf("loneSurrogate(%s) = %U, %v; want %U", tt.lit, r, found, tt.want)
		}
	}
}
