package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
	"github.com/authd/authd/sqlite"
)

// runCmd runs authd with args and vars as its whole environment, and returns what it printed.
func runCmd(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, func(k string) string { return vars[k] }, listEnv(vars), &out, &errOut)
	return out.String(), errOut.String(), err
}

// oneLineError fails unless err is one line that starts with prefix and holds every one of want.
func oneLineError(t *testing.T, err error, prefix string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one starting %q", prefix)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q, want one line starting %q", msg, prefix)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

func TestHelpListsTheCommandsOneLineEach(t *testing.T) {
	_, help, err := runCmd(t, nil, "-h")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("authd -h: %v", err)
	}
	for _, c := range commands() {
		line := regexp.MustCompile(`(?m)^  authd ` + regexp.QuoteMeta(c.words) + `\b.*$`).FindString(help)
		if line == "" || !strings.Contains(line, c.summary) {
			t.Errorf("authd -h has no line for %q with its summary:\n%s", c.words, help)
		}
	}
	for _, want := range []string{"authd -version", "authd <command> -h", "-addr  (AUTH_ADDR"} {
		if !strings.Contains(help, want) {
			t.Errorf("authd -h does not say %q", want)
		}
	}
	if i, j := strings.Index(help, "authd keys rotate"), strings.Index(help, "-addr"); i < 0 || j < i {
		t.Error("authd -h lists the settings before the commands")
	}
}

func TestEachCommandHasItsOwnHelp(t *testing.T) {
	for _, c := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"keys", "-h"}, []string{"authd keys rotate", "`authd keys rotate -h`"}, []string{"-addr"}},
		{[]string{"keys", "rotate", "-h"},
			[]string{"Usage: authd keys rotate", "-activate-after", "same AUTH_* settings as the server", "AUTH_KEY_RELOAD_INTERVAL", "creates none"},
			[]string{"-addr", "AUTH_SMTP_URL", "published now"}},
		{[]string{"bench", "-h"}, []string{"Usage: authd bench", "-workload", "-url", "authd bench seed -h"}, []string{"-addr", "-activate-after"}},
		{[]string{"bench", "seed", "-h"}, []string{"Usage: authd bench seed", "-users", "-tokens", "same AUTH_* settings", "AUTH_DATABASE_URL"}, []string{"-workload", "-addr"}},
		{[]string{"version", "-h"}, []string{"Usage: authd version", "commit"}, []string{"-addr"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, help, err := runCmd(t, nil, c.args...)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v, want flag.ErrHelp (exit 0)", err)
			}
			if stdout != "" {
				t.Errorf("help on standard output as well: %q", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(help, w) {
					t.Errorf("help does not say %q:\n%s", w, help)
				}
			}
			for _, n := range c.not {
				if strings.Contains(help, n) {
					t.Errorf("help says %q:\n%s", n, help)
				}
			}
		})
	}
}

// `authd keys` is not "unexpected argument": it lists the keys commands, and exits 2 as it did nothing.
func TestKeysWithoutACommandListsItsCommands(t *testing.T) {
	_, help, err := runCmd(t, nil, "keys")
	var u usageError
	if !errors.As(err, &u) || !u.shown {
		t.Fatalf("authd keys: %v, want a usage error already shown", err)
	}
	if !strings.Contains(help, "authd keys rotate") || strings.Contains(help, "unexpected argument") {
		t.Fatalf("authd keys printed:\n%s", help)
	}
}

func TestUnknownCommandsNameThemselves(t *testing.T) {
	for _, args := range []string{"frobnicate", "keys rotat", "bench sede"} {
		_, _, err := runCmd(t, nil, strings.Fields(args)...)
		var u usageError
		if !errors.As(err, &u) || u.shown {
			t.Errorf("authd %s: %v, want a usage error (exit 2)", args, err)
			continue
		}
		oneLineError(t, err, `unknown command "`+args+`"`, "authd -h")
	}
	_, _, err := runCmd(t, nil, "-addr", "127.0.0.1:0", "serve")
	oneLineError(t, err, `unexpected argument "serve"`, "authd -h")
}

func TestVersionPrintsModuleVersionAndCommit(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}} {
		stdout, stderr, err := runCmd(t, nil, args...)
		if err != nil || stdout != "authd "+version()+"\n" || stderr != "" {
			t.Errorf("authd %s: %q %q %v, want one line: authd %s", args[0], stdout, stderr, err, version())
		}
	}
	if _, _, err := runCmd(t, nil, "version", "extra"); !errors.As(err, new(usageError)) {
		t.Errorf("authd version extra: %v, want a usage error", err)
	}
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "5d5049c0b1e2a3f4c5d6e7f8091a2b3c4d5e6f70"}, {Key: "vcs.modified", Value: "false"}}}
	for _, c := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{stamped, true, "v1.4.0, commit 5d5049c0b1e2a3f4c5d6e7f8091a2b3c4d5e6f70"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.1-0.20261127140200-5d5049c0b1e2+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "5d5049c0b1e2"}, {Key: "vcs.modified", Value: "true"}}}, true,
			"v1.4.1-0.20261127140200-5d5049c0b1e2+dirty, commit 5d5049c0b1e2 (modified)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "(devel), commit unknown"},
		{&debug.BuildInfo{}, true, "(devel), commit unknown"},
		{nil, false, "(devel), commit unknown"},
	} {
		if got := formatVersion(c.info, c.ok); got != c.want {
			t.Errorf("formatVersion = %q, want %q", got, c.want)
		}
	}
}

// main turns errors into exit codes: 0 for help, 2 for a command line it does not understand (as
// the flag package does), 1 for the rest. Each error is one line on standard error.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, c := range []struct {
		args   []string
		env    []string
		code   int
		stderr string // what standard error must hold ("" for help texts)
	}{
		{[]string{"-h"}, nil, 0, ""},
		{[]string{"keys", "rotate", "-h"}, nil, 0, ""},
		{[]string{"bench", "-h"}, nil, 0, ""},
		{[]string{"version"}, nil, 0, ""},
		{[]string{"-version"}, nil, 0, ""},
		{[]string{"frobnicate"}, nil, 2, `authd: unknown command "frobnicate": authd -h lists the commands`},
		{[]string{"keys", "frobnicate"}, nil, 2, `authd: unknown command "keys frobnicate": authd -h lists the commands`},
		{[]string{"keys"}, nil, 2, "  authd keys rotate"},
		{[]string{"-no-such-flag"}, nil, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"keys", "rotate", "-activate-after", "soon"}, nil, 2, `invalid value "soon" for flag -activate-after`},
		{[]string{"keys", "rotate"}, []string{"AUTH_DATABASE_URL=sqlite:" + missing}, 1, "authd: AUTH_DATABASE_URL: no authd database at " + missing},
		{nil, []string{"AUTH_IP_RATE_LIMT=0"}, 1, "authd: AUTH_IP_RATE_LIMT is not a setting (did you mean AUTH_IP_RATE_LIMIT?)"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], c.args...) // TestMain runs main() with these arguments
			// The inherited environment carries the test suites' own AUTH_TEST_... variables.
			cmd.Env = append(os.Environ(), "AUTHD_TEST_RUN_MAIN=1", "AUTH_TEST_NOT_A_SETTING=1", "AUTH_ADDR=127.0.0.1:0",
				"AUTH_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "a.db"))
			cmd.Env = append(cmd.Env, c.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Fatalf("exit code %d, want %d\n%s%s", code, c.code, stdout.String(), stderr.String())
			}
			if c.stderr != "" && !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("standard error:\n%s\nwant %q", stderr.String(), c.stderr)
			}
			if c.code == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("standard error is not one line:\n%s", stderr.String())
			}
			if c.args != nil && strings.Contains(c.args[0], "version") && (strings.Count(stdout.String(), "\n") != 1 || !strings.HasPrefix(stdout.String(), "authd ")) {
				t.Errorf("authd %s printed %q, want one line", c.args[0], stdout.String())
			}
		})
	}
}

func TestMisspelledVariableStopsStartupNamingTheSetting(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	for typo, meant := range map[string]string{
		"AUTH_IP_RATE_LIMT":     "AUTH_IP_RATE_LIMIT",
		"AUTH_DATABSE_URL":      "AUTH_DATABASE_URL",
		"AUTH_ACCES_TTL":        "AUTH_ACCESS_TTL",
		"AUTH_SMTP":             "AUTH_SMTP_URL",
		"AUTH_CORS_ORIGIN":      "AUTH_CORS_ORIGINS",
		"AUTH_MASTERKEY":        "AUTH_MASTER_KEY",
		"AUTH_LOGIN_FAIL_LIMIT": "AUTH_LOGIN_FAILURE_LIMIT",
	} {
		for _, args := range [][]string{nil, {"keys", "rotate"}, {"bench", "seed", "-users", "1"}} {
			_, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": db, "AUTH_ADDR": "127.0.0.1:0", typo: "0"}, args...)
			oneLineError(t, err, typo+" is not a setting", "did you mean "+meant+"?", "authd -h")
		}
	}
	// Two at once: both named, in one line.
	_, _, err := runCmd(t, map[string]string{"AUTH_ADDR": "127.0.0.1:0", "AUTH_ISSUR": "x", "AUTH_AUDIENCE_": "y"})
	oneLineError(t, err, "AUTH_AUDIENCE_ is not a setting (did you mean AUTH_AUDIENCE?); AUTH_ISSUR is not a setting (did you mean AUTH_ISSUER?)")
}

// The test suites' own variables are not settings: a developer has them exported, and the drills
// run authd as a child process with the environment they inherit.
func TestTestSuiteVariablesAreNotSettings(t *testing.T) {
	env := map[string]string{"AUTH_TEST_POSTGRES_URL": "postgres://x", "AUTH_TEST_REDIS_URL": "redis://x", "AUTH_TEST_STORE": "postgres", "AUTH_TEST_ANYTHING_ELSE": "1"}
	if _, err := loadConfig(nil, envOf(env), &bytes.Buffer{}); err != nil {
		t.Fatalf("with the test suites' variables set: %v", err)
	}
	p := startProcess(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"), "AUTH_TEST_ANYTHING_ELSE": "1"})
	if code, _ := health(t, p.url); code != 200 {
		t.Fatalf("authd as a child process with AUTH_TEST_ variables: /healthz %d", code)
	}
}

func TestAccessTokenOutlivingRefreshTokenIsRefused(t *testing.T) {
	_, _, err := runCmd(t, map[string]string{"AUTH_ACCESS_TTL": "2h", "AUTH_REFRESH_TTL": "1h"})
	oneLineError(t, err, "AUTH_ACCESS_TTL (2h) is longer than AUTH_REFRESH_TTL (1h)")
	// A setting given as a flag is named as the flag (the default 5m access lifetime as its variable).
	_, err = loadConfig([]string{"-refresh-ttl", "1m"}, envOf(nil), &bytes.Buffer{})
	oneLineError(t, err, "AUTH_ACCESS_TTL (5m) is longer than -refresh-ttl (1m)")
	if _, err := loadConfig(nil, envOf(map[string]string{"AUTH_ACCESS_TTL": "1h", "AUTH_REFRESH_TTL": "1h"}), &bytes.Buffer{}); err != nil {
		t.Fatalf("equal lifetimes: %v", err)
	}
}

// AUTH_CORS_ORIGINS=* lets any origin call: no credentials are involved, as authd sets no cookies.
func TestAnyOriginWithAStar(t *testing.T) {
	var help bytes.Buffer
	usage(&help)
	if !strings.Contains(help.String(), "* allows any origin") {
		t.Error("authd -h does not say what AUTH_CORS_ORIGINS=* does")
	}
	s := startAuthd(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"), "AUTH_CORS_ORIGINS": "*"})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/healthz", nil)
	req.Header.Set("Origin", "https://any.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Fatalf("Access-Control-Allow-Origin %q for an origin, want *", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Fatalf("Access-Control-Allow-Credentials %q, want none", got)
	}
}

// No command but the server creates a database: a mistyped path is one line naming it.
func TestCommandsCreateNoSQLiteDatabase(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo", "authd.db")
	for _, args := range [][]string{{"keys", "rotate"}, {"bench", "seed", "-users", "1", "-tokens", "10"}} {
		_, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + missing}, args...)
		oneLineError(t, err, "AUTH_DATABASE_URL: no authd database at "+missing, "the server", "creates it on first start")
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("authd %s created %v", strings.Join(args, " "), entries[0].Name())
		}
	}
	// An empty file (touch) is no authd database either, and stays empty.
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	_, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + empty}, "keys", "rotate")
	oneLineError(t, err, "AUTH_DATABASE_URL: no authd database at "+empty)
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Fatalf("keys rotate wrote %d bytes into an empty file", fi.Size())
	}
	// The server still creates the database, folder and all.
	s := startAuthd(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + missing})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + missing}, "keys", "rotate"); err != nil {
		t.Fatalf("keys rotate on the database the server made: %v", err)
	}
}

func TestKeysRotateSaysWhenInstancesUseTheKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	env := map[string]string{"AUTH_DATABASE_URL": "sqlite:" + path, "AUTH_KEY_RELOAD_INTERVAL": "3m"}
	before := time.Now().Truncate(time.Second)
	out, _, err := runCmd(t, env, "keys", "rotate")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "published now") {
		t.Errorf("keys rotate still says the key is published now:\n%s", out)
	}
	for _, want := range []string{"added signing key ", "and a refresh key (generation 2)", "AUTH_KEY_RELOAD_INTERVAL, 3m", "each at its first reload after that time"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys rotate does not say %q:\n%s", want, out)
		}
	}
	stamp := regexp.MustCompile(`sign with them from (\S+),`).FindStringSubmatch(out)
	if stamp == nil {
		t.Fatalf("no activation time in:\n%s", out)
	}
	at, err := time.Parse(time.RFC3339, stamp[1])
	if err != nil || at.Before(before.Add(6*time.Minute)) || at.After(time.Now().Add(6*time.Minute)) {
		t.Errorf("activation %s, want twice the reload interval from now (%v)", stamp[1], err)
	}
	if strings.Contains(out, "shorter than the reload interval") {
		t.Errorf("a warning with the default delay:\n%s", out)
	}
	out, _, err = runCmd(t, env, "keys", "rotate", "-activate-after", "0s")
	if err != nil || !strings.Contains(out, "generation 3") || !strings.Contains(out, "-activate-after 0s is shorter than the reload interval") {
		t.Errorf("keys rotate -activate-after 0s: %v\n%s", err, out)
	}
}

// An unreachable database is one line naming AUTH_DATABASE_URL, without its password, for the
// server and for the commands alike. (No PostgreSQL is needed: nothing listens at the address.)
func TestUnreachablePostgresNamesTheSetting(t *testing.T) {
	closed := freeAddr(t)
	dbURL := "postgres://authd:hunter2@" + closed + "/authd?sslmode=disable"
	for _, args := range [][]string{nil, {"keys", "rotate"}, {"bench", "seed", "-users", "1"}} {
		_, logs, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": dbURL, "AUTH_ADDR": freeAddr(t)}, args...)
		oneLineError(t, err, "AUTH_DATABASE_URL: postgres://authd:xxxxx@"+closed+"/authd", "cannot connect", "connection refused")
		if strings.Contains(err.Error()+logs, "hunter2") {
			t.Errorf("authd %v shows the password: %v", args, err)
		}
	}
}

// A PostgreSQL database authd never migrated is refused by the commands, and left as it was; the
// server still migrates it.
func TestKeysRotateRefusesAnUnmigratedPostgresDatabase(t *testing.T) {
	pg := authtest.PostgresURL(t) // a schema of its own, empty
	u, _ := url.Parse(pg)
	schema := u.Query().Get("search_path")
	tables := func() int {
		var n int
		db := openDB(t, "pgx", pg)
		if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, args := range [][]string{{"keys", "rotate"}, {"bench", "seed", "-users", "1", "-tokens", "10"}} {
		_, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": pg}, args...)
		oneLineError(t, err, "AUTH_DATABASE_URL: "+redactURL(pg)+": authd has not created its tables in this database", "the server", "first start")
		if n := tables(); n != 0 {
			t.Fatalf("authd %s created %d tables", strings.Join(args, " "), n)
		}
	}
	s := startAuthd(t, map[string]string{"AUTH_DATABASE_URL": pg})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": pg}, "keys", "rotate"); err != nil || !strings.Contains(out, "generation 2") {
		t.Fatalf("keys rotate after the server migrated: %v\n%s", err, out)
	}
}
