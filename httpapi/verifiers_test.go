package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// verifier is an independent JWT library, run as another service would run it: a script in
// testdata/verifiers taking the JWKS URL, a token and the issuer, exiting 0 when it accepts the
// token (printing its claims) and non-zero when it refuses it (printing why on stderr).
type verifier struct {
	name    string
	missing func() string // why it cannot run here and how to get it, or ""
	command []string      // the JWKS, the token and the issuer follow
	// keyRefusals name the errors a refresh token must be refused with: its key is not in the
	// JWKS, or its algorithm is not EdDSA. Any other refusal (a time claim) is the wrong reason.
	keyRefusals []string
}

var verifiers = []verifier{
	{
		name: "PyJWT",
		missing: func() string {
			out, err := exec.Command("/usr/bin/python3", "-c", "import jwt, cryptography").CombinedOutput()
			if err != nil {
				return "PyJWT cannot be imported by /usr/bin/python3 (" + strings.TrimSpace(err.Error()+": "+string(out)) +
					"); install it with: apt-get install python3-jwt python3-cryptography"
			}
			return ""
		},
		command:     []string{"/usr/bin/python3", "testdata/verifiers/verify.py"},
		keyRefusals: []string{"PyJWKClientError", "PyJWKError", "InvalidAlgorithmError"},
	},
	{
		name: "jose",
		missing: func() string {
			if _, err := exec.LookPath("node"); err != nil {
				return "node is not installed (" + err.Error() + "); install Node.js 20 or later, then: npm ci --prefix httpapi/testdata/verifiers"
			}
			if _, err := os.Stat("testdata/verifiers/node_modules/jose"); err != nil {
				return "jose is not installed in httpapi/testdata/verifiers/node_modules; install it with: npm ci --prefix httpapi/testdata/verifiers"
			}
			return ""
		},
		command:     []string{"node", "testdata/verifiers/verify.mjs"},
		keyRefusals: []string{"ERR_JWKS_NO_MATCHING_KEY", "ERR_JOSE_ALG_NOT_ALLOWED"},
	},
}

// run gives the token to the verifier, checking it against the env's JWKS.
func (v verifier) run(t *testing.T, e *env, token string) (claims map[string]any, refusal string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(slices.Clone(v.command[1:]), e.url+"/.well-known/jwks.json", token, e.cfg.Issuer)
	cmd := exec.CommandContext(ctx, v.command[0], args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s took longer than 30 s: %s", v.name, stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s did not run: %v", v.name, err)
	}
	if err != nil {
		if exit.ExitCode() != 1 {
			t.Fatalf("%s: exit %d: %s", v.name, exit.ExitCode(), stderr.String())
		}
		return nil, strings.TrimSpace(stderr.String()), err
	}
	if err := json.Unmarshal([]byte(stdout.String()), &claims); err != nil {
		t.Fatalf("%s accepted the token but printed %q: %v", v.name, stdout.String(), err)
	}
	return claims, "", nil
}

// TestIndependentVerifiersAcceptAccessTokensOnly checks authd's tokens as other services do,
// against /.well-known/jwks.json with PyJWT (Debian's python3-jwt 2.6) and npm's jose: an access
// token verifies the moment it is issued, and a refresh token never does (contract: Tokens).
func TestIndependentVerifiersAcceptAccessTokensOnly(t *testing.T) {
	for _, v := range verifiers {
		t.Run(v.name, func(t *testing.T) {
			if why := v.missing(); why != "" {
				t.Skip(why)
			}
			// The verifiers read the real time, so the env's clock follows it.
			realTime := func(e *env) { e.clock.Advance(time.Since(e.clock.Now())) }
			e := newEnv(t, realTime)
			e.register("verifiers@example.com")

			// Issue early in a second, so that the verifier checks within the second the token
			// was issued in, as a service checking it at once usually does: a fractional iat is
			// then later than PyJWT's current time, which it counts in whole seconds.
			if frac := time.Duration(time.Now().Nanosecond()); frac > 500*time.Millisecond {
				time.Sleep(time.Second - frac)
			}
			realTime(e)
			access, refresh := e.login("verifiers@example.com", testPassword)
			issued := time.Now()

			// At once: no waiting between issuing and checking.
			claims, refusal, err := v.run(t, e, access)
			if err != nil {
				t.Errorf("%s refused an access token %v after it was issued: %s", v.name, time.Since(issued).Round(time.Millisecond), refusal)
			} else if claims["token_type"] != "access" || claims["iss"] != e.cfg.Issuer {
				t.Errorf("%s accepted an access token with claims %v", v.name, claims)
			}

			claims, refusal, err = v.run(t, e, refresh)
			switch {
			case err == nil:
				t.Errorf("%s accepted a refresh token (token_type %v) against the JWKS: its key must not be published", v.name, claims["token_type"])
			case !containsAny(refusal, v.keyRefusals):
				t.Errorf("%s refused a refresh token, but not for its key or algorithm (want one of %v): %s", v.name, v.keyRefusals, refusal)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
