package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// README: "a database that cannot be reached: the line names AUTH_DATABASE_URL, with its password
// hidden"; contract: "naming AUTH_DATABASE_URL, never its password". pgx takes the password from
// the URL's query (?password=) and from a key=value connection string as well as from user:pass@;
// wherever it is written, it must not come back in the error.
func TestAttack3PostgresPasswordIsHiddenWhereverTheURLPutsIt(t *testing.T) {
	closed := freeAddr(t)
	host, port, _ := strings.Cut(closed, ":")
	for name, dbURL := range map[string]string{
		"query parameter":     "postgres://" + closed + "/authd?user=authd&password=hunter2query&sslmode=disable",
		"key=value string":    "host=" + host + " port=" + port + " user=authd password=hunter2kv dbname=authd sslmode=disable",
		"postgresql:// query": "postgresql://" + closed + "/authd?sslmode=disable&password=hunter2pgql",
	} {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{nil, {"keys", "rotate"}} {
				_, logs, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": dbURL, "AUTH_ADDR": freeAddr(t)}, args...)
				if err == nil {
					t.Fatalf("authd %v started on a closed port", args)
				}
				if strings.Contains(err.Error()+logs, "hunter2") {
					t.Errorf("authd %v prints the database password: %v", args, err)
				}
			}
		})
	}
}

// docs/deploy.md: "docker build -t authd ." from the checkout. Every COPY source of the Dockerfile
// other than the binary that go build makes must be in the repository, or the build fails in a
// fresh clone ("COPY failed: ... not found"). deploy/data is matched by .gitignore's "data/", so
// its placeholder was never committed.
func TestAttack3DockerfileCopiesOnlyWhatTheCheckoutHolds(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	copyLine := regexp.MustCompile(`(?m)^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+\s*$`)
	for _, m := range copyLine.FindAllStringSubmatch(string(raw), -1) {
		src := m[1]
		if src == "authd" { // built by go build just before docker build, as the page says
			continue
		}
		out, err := exec.Command(git, "-C", "../..", "ls-files", "--", filepath.ToSlash(src)).Output()
		if err != nil {
			t.Skipf("git ls-files: %v", err)
		}
		if strings.TrimSpace(string(out)) == "" {
			t.Errorf("Dockerfile copies %q, which no committed file provides: docker build fails in a fresh clone", src)
		}
	}
}

// README: a misspelled variable's line "also names the setting it was probably meant to be".
// A name that is close to no setting should not be given a setting it has nothing in common with.
func TestAttack3UnrelatedVariableIsNotGivenAFarFetchedSuggestion(t *testing.T) {
	_, _, err := runCmd(t, map[string]string{"AUTH_FOO": "1", "AUTH_ADDR": freeAddr(t)})
	if err == nil {
		t.Fatal("AUTH_FOO did not stop start-up")
	}
	if strings.Contains(err.Error(), "did you mean AUTH_ADDR") {
		t.Errorf("AUTH_FOO: %v (AUTH_ADDR shares nothing with it but the prefix)", err)
	}
}

// A contradiction given by flags is named by the flags: `authd -access-ttl 2h -refresh-ttl 1h`
// should not blame variables the operator never set.
func TestAttack3ContradictingFlagsAreNamedAsFlags(t *testing.T) {
	_, _, err := runCmd(t, map[string]string{"AUTH_ADDR": freeAddr(t)}, "-access-ttl", "2h", "-refresh-ttl", "1h")
	if err == nil {
		t.Fatal("contradicting flags did not stop start-up")
	}
	if !strings.Contains(err.Error(), "-access-ttl") {
		t.Errorf("error %q names only the variables, though flags were given", err)
	}
}

// README: start-up stops "with one line naming the variable at: a bad value". An origin is a
// scheme, a host and an optional port (RFC 6454), which is all a browser ever sends in Origin.
// A value with a path (a trailing slash, the commonest slip), without a scheme, or the opaque
// origin "null" (sent by sandboxed iframes and data: pages of any site) is accepted, and then
// either never matches a browser or opens every endpoint to any page that makes itself opaque.
func TestAttack3BadCORSOriginsStopStartup(t *testing.T) {
	for _, v := range []string{"https://app.example.com/", "app.example.com", "null", "https://app.example.com/path"} {
		_, err := loadConfig(nil, envOf(map[string]string{"AUTH_CORS_ORIGINS": v}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "AUTH_CORS_ORIGINS") {
			t.Errorf("AUTH_CORS_ORIGINS=%q: %v, want start-up stopped naming AUTH_CORS_ORIGINS", v, err)
		}
	}
}

// Contract: settings that contradict each other stop start-up. A reuse window at least as long as
// a refresh token lives (AUTH_REFRESH_REUSE_WINDOW=48h with the default AUTH_REFRESH_TTL=24h)
// means no used-up token is ever "presented again past that window" while it is unexpired: the
// theft detection the contract describes (revoke the whole chain) can never fire, and a stolen
// used token answers 200 with the live successor for the rest of its life. Nothing says so.
func TestAttack3ReuseWindowOutlivingRefreshTokenIsRefused(t *testing.T) {
	_, err := loadConfig(nil, envOf(map[string]string{"AUTH_REFRESH_REUSE_WINDOW": "48h"}), io.Discard)
	if err == nil {
		t.Fatal("AUTH_REFRESH_REUSE_WINDOW=48h with AUTH_REFRESH_TTL=24h was accepted")
	}
}
