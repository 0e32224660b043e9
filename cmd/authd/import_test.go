package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/django"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/sqlstore"
)

// importCmd runs authd import django with args against the database at dbURL, stdin as its
// standard input.
func importCmd(t *testing.T, dbURL, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vars := map[string]string{"AUTH_DATABASE_URL": dbURL}
	var out, errOut bytes.Buffer
	env := environment{get: func(k string) string { return vars[k] }, list: listEnv(vars), stdin: strings.NewReader(stdin)}
	err = importDjango(ctx, args, env, &out, &errOut)
	return out.String(), errOut.String(), err
}

// eachStore runs fn with a new database's URL: a SQLite file, and PostgreSQL when
// AUTH_TEST_POSTGRES_URL is set.
func eachStore(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+filepath.Join(t.TempDir(), "authd.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, authtest.PostgresURL(t)) })
}

func openImported(t *testing.T, dbURL string) *sqlstore.Store {
	t.Helper()
	var s *sqlstore.Store
	var err error
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		s, err = sqlite.Open(context.Background(), path, sqlite.Options{Existing: true})
	} else {
		s, err = postgres.Open(context.Background(), dbURL, postgres.Options{Existing: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeDump(t *testing.T, dump string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(path, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func userRecord(pk, email, first, phone string, extra string) string {
	return fmt.Sprintf(`{"model": "accounts.user", "pk": %s, "fields": {"password": "pbkdf2_sha256$600000$s$bm90IGEgcmVhbCBoYXNoIGF0IGFsbCwgcmVhbGx5ISE=", "email": %s, "first_name": %s, "last_name": "L", "phone_no": %s, "is_active": true, "date_joined": "2024-01-02T03:04:05.678Z"%s}}`,
		pk, js(email), js(first), js(phone), extra)
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// mixedDump has good and bad records of every kind.
var mixedDump = "[\n" + strings.Join([]string{
	userRecord(`1`, "ann@example.com", "Ann", "+442071838750", `, "email_verified": true`),
	userRecord(`"2"`, "bell@example.com", "Be\u0007ll", "", ""),
	userRecord(`3`, "not-an-email", "Cy", "", ""),
	userRecord(`4`, "dee@example.com", "Dee", "12", ""),
	userRecord(`5`, "ANN@Example.com", "Ann again", "", ""),
	userRecord(`6`, "eve@example.com", "Eve", "+442071838751", ""),
	userRecord(`7`, "fay@example.com", "Fay", "", `, "email_verified": "yes"`),
	`{"model": "social_django.usersocialauth", "pk": 1, "fields": {"user": 1, "provider": "google-oauth2", "uid": "g1", "extra_data": {}}}`,
	`{"model": "social_django.usersocialauth", "pk": 2, "fields": {"user": 99, "provider": "google-oauth2", "uid": "g99", "extra_data": {}}}`,
	`{"model": "social_django.usersocialauth", "pk": 3, "fields": {"user": 6, "provider": "facebook", "uid": "f6", "extra_data": {}}}`,
	`{"model": "token_blacklist.outstandingtoken", "pk": 1, "fields": {"user": 1, "jti": "j1", "token": "x", "created_at": "2024-01-02T03:04:05Z", "expires_at": "2030-01-02T03:04:05Z"}}`,
	`{"model": "token_blacklist.blacklistedtoken", "pk": 1, "fields": {"token": 1, "blacklisted_at": "2024-01-03T03:04:05Z"}}`,
	`{"model": "auth.group", "pk": 1, "fields": {"name": "staff"}}`,
}, ",\n") + "\n]\n"

var mixedSkips = []string{
	"skipped user pk=2: " + auth.SkipName,
	"skipped user pk=3: " + auth.SkipInvalidEmail,
	"skipped user pk=4: " + auth.SkipInvalidPhone,
	"skipped user pk=5: " + auth.SkipEmailTaken,
	"skipped user pk=7: email_verified: want true or false, got \"yes\"",
	"skipped social_django.usersocialauth pk=2: " + auth.SkipNoUser,
	"skipped social_django.usersocialauth pk=3: " + auth.SkipProvider,
}

// skipLines returns the report's skipped lines, sorted: an unreadable record is reported as it is
// read, one that breaks a rule when its batch is written.
func skipLines(report string) []string {
	lines := regexp.MustCompile(`(?m)^skipped .*$`).FindAllString(report, -1)
	sort.Strings(lines)
	return lines
}

func TestImportDjangoUsage(t *testing.T) {
	_, help, err := runCmd(t, nil, "import", "django", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(help, "Usage: authd import django [-dry-run] [-batch n] [-user-model app.model] FILE|-") {
		t.Fatalf("-h: %v\n%s", err, help)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "authd.db")
	for _, args := range [][]string{nil, {"a.json", "b.json"}, {"-batch", "0", "a.json"}, {"-batch", "10001", "a.json"}} {
		_, _, err := runCmd(t, map[string]string{"AUTH_DATABASE_URL": db}, append([]string{"import", "django"}, args...)...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("import django %q: %v, want a usage error", args, err)
		}
	}
	_, _, err = runCmd(t, map[string]string{"AUTH_DATABASE_URL": db}, "import", "django", filepath.Join(t.TempDir(), "missing.json"))
	oneLineError(t, err, "open the dump: ", "missing.json", "no such file")
	if _, err := os.Stat(strings.TrimPrefix(db, "sqlite:")); err == nil {
		t.Error("a failed import created the database")
	}
}

func TestImportDjangoReport(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		out, _, err := importCmd(t, db, mixedDump, "-")
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string(nil), mixedSkips...)
		sort.Strings(want)
		if got := skipLines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("skipped lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(mixedSkips, "\n"))
		}
		for _, want := range []string{"users: 2 added, 0 updated, 5 skipped\n", "google links: 1 added, 0 updated, 2 skipped\n",
			"tokens: 2 outstanding and blacklist records imported\n", "1 records of other models ignored\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report lacks %q:\n%s", want, out)
			}
		}
		s := openImported(t, db)
		ann, err := s.UserByEmailKey(context.Background(), "ann@example.com")
		if err != nil || ann.FirstName != "Ann" || ann.Phone != "+442071838750" || !ann.EmailVerified || !strings.HasPrefix(ann.PasswordHash, "pbkdf2_sha256$") {
			t.Errorf("ann: %+v, %v", ann, err)
		}
		if u, err := s.UserBySocial(context.Background(), "google-oauth2", "g1"); err != nil || u.ID != ann.ID {
			t.Errorf("ann's Google link: %+v, %v", u, err)
		}
		for _, e := range []string{"bell@example.com", "dee@example.com", "fay@example.com"} {
			if _, err := s.UserByEmailKey(context.Background(), e); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("%s, skipped, is there: %v", e, err)
			}
		}

		// A second run, from the file, updates.
		out, _, err = importCmd(t, db, "", writeDump(t, mixedDump))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "users: 0 added, 2 updated, 5 skipped\n") || !strings.Contains(out, "google links: 0 added, 1 updated, 2 skipped\n") {
			t.Errorf("the second run:\n%s", out)
		}
		if got := skipLines(out); len(got) != len(mixedSkips) {
			t.Errorf("the second run skipped\n%s", strings.Join(got, "\n"))
		}
	})
}

// snapshot is what an import leaves: each user of the dump, and its Google links.
func snapshot(t *testing.T, db string, emails ...string) string {
	t.Helper()
	s := openImported(t, db)
	var b strings.Builder
	for _, e := range emails {
		u, err := s.UserByEmailKey(context.Background(), e)
		if errors.Is(err, auth.ErrNotFound) {
			fmt.Fprintf(&b, "%s: none\n", e)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		links, err := s.SocialLinks(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %s %s %s %s %t %t %s %d links\n", e, u.FirstName, u.LastName, u.Phone, u.PasswordHash, u.Active, u.EmailVerified, u.DateJoined, len(links))
	}
	return b.String()
}

var mixedEmails = []string{"ann@example.com", "bell@example.com", "dee@example.com", "eve@example.com", "fay@example.com"}

func TestImportDjangoDryRunChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		dump := writeDump(t, mixedDump)
		// A dry run needs a database made already (making one would be a change): an empty
		// import makes it.
		if _, _, err := importCmd(t, db, "[]", "-"); err != nil {
			t.Fatal(err)
		}
		out, _, err := importCmd(t, db, "", "-dry-run", dump)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "users: 2 added, 0 updated, 5 skipped\n") || !strings.Contains(out, "dry run: nothing was changed") {
			t.Errorf("the dry run's report:\n%s", out)
		}
		empty := snapshot(t, db, mixedEmails...)
		if strings.Count(empty, ": none\n") != len(mixedEmails) {
			t.Errorf("a dry run into an empty store left\n%s", empty)
		}
		if _, _, err := importCmd(t, db, "", dump); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, db, mixedEmails...)
		changed := strings.ReplaceAll(mixedDump, `"first_name": "Ann"`, `"first_name": "Changed"`)
		if _, _, err := importCmd(t, db, changed, "-dry-run", "-"); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, db, mixedEmails...); after != before {
			t.Errorf("a dry run changed\n%s\ninto\n%s", before, after)
		}
		if _, _, err := importCmd(t, db, changed, "-"); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, db, mixedEmails...); !strings.Contains(after, "ann@example.com: Changed ") {
			t.Errorf("a real run after the dry one did not update:\n%s", after)
		}
	})
}

// noDuplicate is mixedDump without its second record of ann's email, which batches of their own
// do not catch (TestImportDjangoDuplicateEmailAcrossBatches).
var noDuplicate = strings.Replace(mixedDump, userRecord(`5`, "ANN@Example.com", "Ann again", "", "")+",\n", "", 1)

func totals(report string) string {
	return strings.Join(regexp.MustCompile(`(?m)^[a-z ]+: \d+ .*$`).FindAllString(report, -1), "\n")
}

// A second record of an email read in a later batch than the first is skipped as the first one
// in the same batch is, not taken for an update of the first.
func TestImportDjangoDuplicateEmailAcrossBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		out, _, err := importCmd(t, db, mixedDump, "-batch", "1", "-")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "skipped user pk=5: "+auth.SkipEmailTaken) || !strings.Contains(out, "users: 2 added, 0 updated, 5 skipped\n") {
			t.Errorf("report:\n%s", out)
		}
	})
}

func TestImportDjangoBatchSizesAgree(t *testing.T) {
	eachStore(t, func(t *testing.T, base string) {
		var reports, snaps []string
		for i, batch := range []string{"1", "10000", "3"} {
			db := base
			if strings.HasPrefix(base, "sqlite:") {
				db = "sqlite:" + filepath.Join(t.TempDir(), fmt.Sprint(i, ".db"))
			} else if i > 0 {
				db = authtest.PostgresURL(t)
			}
			out, _, err := importCmd(t, db, noDuplicate, "-batch", batch, "-")
			if err != nil {
				t.Fatal(err)
			}
			reports, snaps = append(reports, strings.Join(skipLines(out), "\n")+totals(out)), append(snaps, snapshot(t, db, mixedEmails...))
		}
		for i := 1; i < len(reports); i++ {
			if reports[i] != reports[0] || snaps[i] != snaps[0] {
				t.Errorf("batch sizes disagree:\n%s%s\n%s%s", reports[0], snaps[0], reports[i], snaps[i])
			}
		}
	})
}

// The contract: authd import opens the store as the server does, creating and migrating a new one.
func TestImportDjangoCreatesTheStore(t *testing.T) {
	eachStore(t, func(t *testing.T, db string) {
		if strings.HasPrefix(db, "sqlite:") {
			db = "sqlite:" + filepath.Join(t.TempDir(), "new", "dir", "authd.db")
		}
		out, _, err := importCmd(t, db, `[`+userRecord(`1`, "a@example.com", "A", "", "")+`]`, "-")
		if err != nil || !strings.Contains(out, "users: 1 added") {
			t.Fatalf("import into a new store: %v\n%s", err, out)
		}
		if got := snapshot(t, db, "a@example.com"); strings.Contains(got, "none") {
			t.Errorf("the new store lacks the user: %s", got)
		}
		// The server starts on the store the import made.
		s := startAuthd(t, map[string]string{"AUTH_DATABASE_URL": db})
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// The memory an import needs does not grow with the dump: it is read a record at a time.
func TestImportDjangoMemoryDoesNotGrowWithTheDump(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("imports 110,000 users: skipped under -short and under the race detector, which multiplies memory and time")
	}
	peak := func(users int) uint64 {
		path := filepath.Join(t.TempDir(), "dump.json")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := django.WriteSynthetic(f, users); err != nil {
			t.Fatal(err)
		}
		f.Close()
		db := "sqlite:" + filepath.Join(t.TempDir(), "authd.db")
		runtime.GC()
		var max atomic.Uint64
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > max.Load() {
					max.Store(m.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond): // ReadMemStats stops the world: not too often
				}
			}
		}()
		start := time.Now()
		out, _, err := importCmd(t, db, "", "-batch", "1000", path)
		close(done)
		<-sampled
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("users: %d added, 0 updated, 0 skipped\n", users); !strings.Contains(out, want) {
			t.Fatalf("report:\n%s", out)
		}
		t.Logf("%d users: %v, peak heap in use %d MiB", users, time.Since(start).Round(time.Millisecond), max.Load()>>20)
		return max.Load()
	}
	small := peak(10_000)
	large := peak(100_000)
	if large > 2*small+32<<20 {
		t.Errorf("peak heap in use %d MiB for 100,000 users, %d MiB for 10,000: it grows with the dump", large>>20, small>>20)
	}
}
