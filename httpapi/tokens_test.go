package httpapi_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

var b64 = base64.RawURLEncoding

// parts splits a JWT into its decoded header and payload and its raw signature.
func parts(t *testing.T, tok string) (header, payload obj, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(p))
	}
	for i, dst := range []*obj{&header, &payload} {
		raw, err := b64.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, p[2]
}

func encodeSegment(v any) string { b, _ := json.Marshal(v); return b64.EncodeToString(b) }

func TestIssuedTokens(t *testing.T) {
	e := newEnv(t)
	e.register("claims@example.com")
	access, refresh := e.login("claims@example.com", testPassword)
	jwks := e.do("GET", "/.well-known/jwks.json", "", "")
	keys := jwks.body["keys"].([]any)
	kid := keys[0].(map[string]any)["kid"]

	if len(keys) != 1 {
		t.Fatalf("JWKS %s: want the one signing key", jwks.raw)
	}
	sids := map[string]any{}
	for typ, tok := range map[string]string{"access": access, "refresh": refresh} {
		h, p, _ := parts(t, tok)
		// Access tokens are EdDSA under the published key; refresh tokens HS256 under a key of
		// their own that the JWKS never lists.
		if typ == "access" && (h["alg"] != "EdDSA" || h["kid"] != kid) {
			t.Errorf("access header %v, want alg EdDSA and kid %v", h, kid)
		}
		if typ == "refresh" && (h["alg"] != "HS256" || h["kid"] == kid || h["kid"] == nil || strings.Contains(jwks.raw, h["kid"].(string))) {
			t.Errorf("refresh header %v, want alg HS256 and a kid the JWKS does not list", h)
		}
		if p["token_type"] != typ || p["user_id"] == "" || p["sub"] != p["user_id"] || p["iss"] != "authd" || p["jti"] == "" || p["sid"] == nil {
			t.Errorf("%s claims %v", typ, p)
		}
		sids[typ] = p["sid"]
		if _, ok := p["aud"]; ok {
			t.Errorf("%s token has aud without AUTH_AUDIENCE: %v", typ, p)
		}
		if jti, _ := p["jti"].(string); len(jti) < 22 {
			t.Errorf("%s jti %q is too short to hold 128 random bits", typ, jti)
		}
		// Whole seconds, so that every verifier accepts the token the moment it is issued.
		for _, claim := range []string{"iat", "exp"} {
			if v, _ := p[claim].(float64); v != float64(int64(v)) || v == 0 {
				t.Errorf("%s %s = %v, want whole seconds", typ, claim, p[claim])
			}
		}
		if strings.Contains(p["sub"].(string), "@") {
			t.Errorf("sub is an email: %v", p["sub"])
		}
		for _, k := range []string{"phone", "phone_no", "password", "email"} {
			if _, ok := p[k]; ok {
				t.Errorf("%s token carries %q", typ, k)
			}
		}
		iat, exp := p["iat"].(float64), p["exp"].(float64)
		lifetime := map[string]time.Duration{"access": 5 * time.Minute, "refresh": 24 * time.Hour}[typ]
		if got := time.Duration(exp-iat) * time.Second; got < lifetime-time.Second || got > lifetime {
			t.Errorf("%s lives %v, want %v", typ, got, lifetime)
		}
		if amr, _ := json.Marshal(p["amr"]); typ == "access" && string(amr) != `["pwd"]` {
			t.Errorf("access amr %s, want [\"pwd\"]", amr)
		}
	}
	if sids["access"] != sids["refresh"] {
		t.Errorf("the pair names two sign-ins: %v", sids)
	}
}

func TestJWKSChecksTokensWithAnIndependentLibrary(t *testing.T) {
	e := newEnv(t)
	e.register("jwks@example.com")
	access, _ := e.login("jwks@example.com", testPassword)
	r := e.do("GET", "/.well-known/jwks.json", "", "")
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age") {
		t.Errorf("JWKS Cache-Control %q, want a max-age", cc)
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`, `"k"`} {
		if strings.Contains(r.raw, private+":") {
			t.Fatalf("JWKS publishes private member %s: %s", private, r.raw)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.raw), &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(access, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 || keys[0].Use != "sig" || keys[0].Algorithm != "EdDSA" {
		t.Fatalf("JWKS keys for kid %q: %+v", parsed.Headers[0].KeyID, keys)
	}
	var claims josejwt.Claims
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("go-jose rejects authd's token: %v", err)
	}
	if err := claims.ValidateWithLeeway(josejwt.Expected{Issuer: "authd", Time: e.clock.Now()}, 0); err != nil {
		t.Fatalf("claims: %v", err)
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	e.register("verify@example.com")
	access, refresh := e.login("verify@example.com", testPassword)
	want(t, e.verify(access), 200, `{}`)
	want(t, e.post("/auth/token/verify/", obj{"token": access}), 200, `{}`) // simplejwt's name
	want(t, e.verify(refresh), 401, invalidToken)
	want(t, e.refresh(access), 401, invalidToken)
	want(t, e.post("/auth/token/verify/", obj{}), 400, `{"access_token":["This field is required."]}`)
	want(t, e.verify("garbage"), 401, invalidToken)

	e.clock.Advance(5*time.Minute + time.Second)
	want(t, e.verify(access), 401, invalidToken)
}

// The token may come as "Authorization: Bearer <token>" when the body has none. A header that
// holds no usable bearer token counts as no header: verify keeps its own answers (400 for a
// missing token) rather than those of the signed-in endpoints.
func TestVerifyTakesABearerHeader(t *testing.T) {
	e := newEnv(t)
	e.register("bearer@example.com")
	access, refresh := e.login("bearer@example.com", testPassword)
	const required = `{"access_token":["This field is required."]}`
	tests := []struct {
		name, contentType, body string
		authorization           []string // one header line each
		status                  int
		want                    string
	}{
		{"empty body", "", "", []string{"Bearer " + access}, 200, `{}`},
		{"empty JSON object", "application/json", `{}`, []string{"Bearer " + access}, 200, `{}`},
		{"form without the token", "application/x-www-form-urlencoded", "other=1", []string{"Bearer " + access}, 200, `{}`},
		{"scheme in lower case", "", "", []string{"bearer " + access}, 200, `{}`},
		{"spaces around the token", "", "", []string{"Bearer   " + access + " "}, 200, `{}`},
		{"body token wins over a bad header", "application/json", `{"access_token":"` + access + `"}`, []string{"Bearer garbage"}, 200, `{}`},
		{"body token under simplejwt's name wins", "application/json", `{"token":"` + access + `"}`, []string{"Bearer garbage"}, 200, `{}`},
		{"bad body token wins over a good header", "application/json", `{"access_token":"garbage"}`, []string{"Bearer " + access}, 401, invalidToken},
		{"blank body token is judged, not replaced", "application/json", `{"access_token":" "}`, []string{"Bearer " + access}, 400, `{"access_token":["This field may not be blank."]}`},
		{"refresh token as Bearer", "", "", []string{"Bearer " + refresh}, 401, invalidToken},
		{"garbage as Bearer", "", "", []string{"Bearer garbage"}, 401, invalidToken},
		{"token over the length bound", "", "", []string{"Bearer " + strings.Repeat("a", auth.MaxTokenLength+1)}, 401, invalidToken},
		{"no body token and no header", "application/json", `{}`, nil, 400, required},
		{"another scheme", "", "", []string{"Basic " + b64.EncodeToString([]byte("bearer@example.com:"+testPassword))}, 400, required},
		{"simplejwt's other scheme", "", "", []string{"JWT " + access}, 400, required},
		{"Bearer alone", "", "", []string{"Bearer"}, 400, required},
		{"Bearer and spaces", "", "", []string{"Bearer   "}, 400, required},
		{"more than two values", "", "", []string{"Bearer " + access + " extra"}, 400, required},
		{"the token alone", "", "", []string{access}, 400, required},
		{"two Authorization headers", "", "", []string{"Bearer " + access, "Bearer " + access}, 400, required},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", e.url+"/auth/token/verify/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for _, v := range tt.authorization {
				req.Header.Add("Authorization", v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			want(t, response{status: res.StatusCode, raw: string(raw)}, tt.status, tt.want)
			if tt.status == 401 && res.Header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("an expired token as Bearer", func(t *testing.T) {
		e.clock.Advance(5*time.Minute + time.Second)
		want(t, e.do("POST", "/auth/token/verify/", "", "", "Authorization", "Bearer "+access), 401, invalidToken)
	})
	if strings.Contains(e.logs.String(), access) {
		t.Error("the log holds a token from an Authorization header")
	}
}

func TestForgedTokensAreRejected(t *testing.T) {
	e := newEnv(t)
	e.register("forge@example.com")
	access, _ := e.login("forge@example.com", testPassword)
	header, payload, sig := parts(t, access)
	segs := strings.Split(access, ".")

	// The public key in every encoding an HS256 confusion attack might use as the secret.
	jwks := e.do("GET", "/.well-known/jwks.json", "", "")
	jwk := jwks.body["keys"].([]any)[0].(map[string]any)
	rawX, _ := b64.DecodeString(jwk["x"].(string))
	der, _ := x509.MarshalPKIXPublicKey(ed25519.PublicKey(rawX))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, _ := json.Marshal(jwk)

	forged := map[string]string{}
	for _, alg := range []string{"none", "None", "NONE"} {
		h := obj{"alg": alg, "typ": "JWT", "kid": header["kid"]}
		forged["alg "+alg+" empty signature"] = encodeSegment(h) + "." + segs[1] + "."
		forged["alg "+alg+" original signature"] = encodeSegment(h) + "." + segs[1] + "." + sig
	}
	for name, secret := range map[string][]byte{"PEM": pemKey, "DER": der, "JWK": jwkJSON, "raw x": rawX} {
		signing := encodeSegment(obj{"alg": "HS256", "typ": "JWT", "kid": header["kid"]}) + "." + segs[1]
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		forged["HS256 with public key as "+name] = signing + "." + b64.EncodeToString(mac.Sum(nil))
	}
	for _, kid := range []string{"../../../../dev/null", "' OR '1'='1", "http://127.0.0.1:1/", strings.Repeat("k", 10000)} {
		forged["kid "+kid[:min(len(kid), 20)]] = encodeSegment(obj{"alg": "EdDSA", "kid": kid}) + "." + segs[1] + "." + sig
	}
	// An attacker's own key, carried in the header.
	attackerPub, attackerKey, _ := ed25519.GenerateKey(nil)
	jwkHeader := encodeSegment(obj{"alg": "EdDSA", "kid": "attacker", "jwk": obj{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(attackerPub)}})
	forged["jwk header"] = jwkHeader + "." + segs[1] + "." + b64.EncodeToString(ed25519.Sign(attackerKey, []byte(jwkHeader+"."+segs[1])))

	tampered := obj{}
	for k, v := range payload {
		tampered[k] = v
	}
	tampered["user_id"], tampered["sub"] = "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"
	forged["changed payload"] = segs[0] + "." + encodeSegment(tampered) + "." + sig
	forged["empty signature"] = segs[0] + "." + segs[1] + "."
	forged["truncated signature"] = segs[0] + "." + segs[1] + "." + sig[:len(sig)-4]
	forged["two segments"] = segs[0] + "." + segs[1]
	forged["four segments"] = access + "." + sig
	forged["padded signature"] = access + "=="
	forged["standard base64"] = segs[0] + "." + segs[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(sig) + "+/"
	noExp := obj{}
	for k, v := range payload {
		if k != "exp" {
			noExp[k] = v
		}
	}
	forged["no exp, unsigned"] = segs[0] + "." + encodeSegment(noExp) + "." + sig
	forged["1 MB of dots"] = strings.Repeat(".", 1<<20-100)

	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := e.verify(tok)
			if name == "1 MB of dots" {
				if r.status != 413 {
					t.Fatalf("got %d %s, want 413", r.status, r.raw)
				}
			} else {
				want(t, r, 401, invalidToken)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	want(t, e.verify(access), 200, `{}`) // the genuine token still passes
}

func TestRestartKeepsTokensValid(t *testing.T) {
	e := newEnv(t)
	e.register("restart@example.com")
	access, refresh := e.login("restart@example.com", testPassword)
	e.start() // a second process on the same database file
	want(t, e.verify(access), 200, `{}`)
	if r := e.refresh(refresh); r.status != 200 {
		t.Fatalf("refresh after restart: %d %s", r.status, r.raw)
	}
}

// With AUTH_AUDIENCE set, access tokens carry it and verify requires it: a token issued before
// it was set (or for another audience) is refused.
func TestAudience(t *testing.T) {
	e := newEnv(t)
	e.register("aud@example.com")
	before, _ := e.login("aud@example.com", testPassword)
	e.cfg.Audience = "api.example.com"
	e.start() // the same database, now with an audience
	access, _ := e.login("aud@example.com", testPassword)
	if _, p, _ := parts(t, access); fmt.Sprint(p["aud"]) != "[api.example.com]" {
		t.Fatalf("aud = %v, want [api.example.com]", p["aud"])
	}
	want(t, e.verify(access), 200, `{}`)
	want(t, e.verify(before), 401, invalidToken)
}
