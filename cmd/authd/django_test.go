package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
)

// Moving in from the original service, against a real one: testdata/django is a Django 3.2
// project with simplejwt and a python-social-auth stand-in, whose make_fixture.py creates users
// with every Django hasher, the records an import must skip, and simplejwt tokens, and dumps them
// with dumpdata. authd imports the dump (dry run, then twice for real), and then everything is
// checked through its HTTP API: each password signs in and is re-hashed, each legacy refresh
// token refreshes once, the blacklisted and expired ones do not, legacy access tokens verify,
// Google users link, and nothing skipped got in.

const djangoPython = "/usr/bin/python3"

func TestImportFromDjangoSQLite(t *testing.T) {
	needDjango(t)
	path := filepath.Join(t.TempDir(), "authd.db")
	testImportFromDjango(t, "sqlite:"+path, func() *sql.DB { return openDB(t, "sqlite", path) }, false)
}

func TestImportFromDjangoPostgres(t *testing.T) {
	needDjango(t)
	pg := authtest.PostgresURL(t)
	testImportFromDjango(t, pg, func() *sql.DB { return openDB(t, "pgx", pg) }, true)
}

// needDjango skips the test, saying what is missing, without Debian's Django and the rest.
func needDjango(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(djangoPython); err != nil {
		t.Skipf("Django import test skipped: %s is missing (apt-get install python3 python3-django python3-djangorestframework python3-djangorestframework-simplejwt python3-argon2 python3-bcrypt)", djangoPython)
	}
	out, err := exec.Command(djangoPython, "-c", "import django, rest_framework, rest_framework_simplejwt, argon2, bcrypt").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("Django import test skipped: %s: %s (apt-get install python3-django python3-djangorestframework python3-djangorestframework-simplejwt python3-argon2 python3-bcrypt)",
			djangoPython, lines[len(lines)-1])
	}
}

// djangoFixture is what make_fixture.py wrote: the dump and its manifest.
type djangoFixture struct {
	Dump      string
	SecretKey string       `json:"secret_key"`
	Users     []djangoUser `json:"users"`
}

type djangoUser struct {
	PK            string            `json:"pk"`
	Email         string            `json:"email"`
	Password      string            `json:"password"`
	Hasher        string            `json:"hasher"` // Django's algorithm name, "unusable" or "scrypt"
	Active        bool              `json:"active"`
	EmailVerified bool              `json:"email_verified"`
	Phone         *string           `json:"phone_no"`
	DateJoined    time.Time         `json:"date_joined"`
	Expect        string            `json:"expect"` // imported | skipped
	Skip          string            `json:"skip"`   // why, when skipped
	Tokens        map[string]string `json:"tokens"`
	GoogleUID     string            `json:"google_uid"`
	OtherSocial   *struct {
		Provider, UID string
	} `json:"other_social"`
}

// skipReasons are the manifest's reasons in authd's words.
var skipReasons = map[string]string{
	"invalid_email": auth.SkipInvalidEmail,
	"email_taken":   auth.SkipEmailTaken,
	"invalid_phone": auth.SkipInvalidPhone,
	"phone_taken":   auth.SkipPhoneTaken,
}

// makeDjangoFixture copies the Django project into a temporary directory and runs its generator
// there, with a new database and a new SECRET_KEY: nothing is written into the repository.
func makeDjangoFixture(t *testing.T) djangoFixture {
	t.Helper()
	dir := t.TempDir()
	project := filepath.Join(dir, "project")
	src := filepath.Join("..", "..", "testdata", "django")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		switch {
		case d.IsDir() && d.Name() == "__pycache__":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(project, rel), 0o755)
		case strings.HasSuffix(d.Name(), ".py"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(project, rel), b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copy the Django project: %v", err)
	}
	secret := "django-insecure-" + rand.Text() + rand.Text()
	out := filepath.Join(dir, "out")
	cmd := exec.Command(djangoPython, "make_fixture.py", out)
	cmd.Dir = project
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DJANGO_") && !strings.HasPrefix(kv, "PYTHON") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DJANGO_DB_PATH="+filepath.Join(dir, "original.db"), "DJANGO_SECRET_KEY="+secret,
		"PYTHONDONTWRITEBYTECODE=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_fixture.py: %v\n%s", err, b)
	}
	var f djangoFixture
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if f.SecretKey != secret || len(f.Users) == 0 {
		t.Fatalf("manifest.json: secret %q and %d users", f.SecretKey, len(f.Users))
	}
	f.Dump = filepath.Join(out, "dump.json")
	return f
}

// reportCounts reads the "users: 1 added, 2 updated, 3 skipped" line of an import's report.
func reportCounts(t *testing.T, report, what string) (added, updated, skipped int) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + what + `: (\d+) added, (\d+) updated, (\d+) skipped$`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("the report has no %q line of counts:\n%s", what, report)
	}
	a, _ := strconv.Atoi(m[1])
	u, _ := strconv.Atoi(m[2])
	s, _ := strconv.Atoi(m[3])
	return a, u, s
}

// checkReport checks an import's report against the manifest: the counts, and one line for each
// skipped user, naming its pk and the reason, and none for the others; googleAdded is how many
// Google links were added (-1: a dry run into an empty store, where they have no user yet).
func checkReport(t *testing.T, run, report string, f djangoFixture, wantAdded, wantUpdated, googleAdded int) {
	t.Helper()
	skipped := 0
	for _, u := range f.Users {
		line := regexp.MustCompile(`(?m)^skipped user pk=`+regexp.QuoteMeta(u.PK)+`: (.*)$`).FindAllStringSubmatch(report, -1)
		switch {
		case u.Expect == "skipped":
			skipped++
			if len(line) != 1 || line[0][1] != skipReasons[u.Skip] {
				t.Errorf("%s: %s (%s) should be reported skipped once, %q; the report says %q", run, u.Email, u.PK, skipReasons[u.Skip], line)
			}
		case len(line) != 0:
			t.Errorf("%s: %s (%s) should be imported; the report says %q", run, u.Email, u.PK, line)
		}
	}
	if n := strings.Count(report, "skipped user pk="); n != skipped {
		t.Errorf("%s: %d skipped-user lines, want %d:\n%s", run, n, skipped, report)
	}
	if a, u, s := reportCounts(t, report, "users"); a != wantAdded || u != wantUpdated || s != skipped {
		t.Errorf("%s: users %d added, %d updated, %d skipped; want %d, %d, %d:\n%s", run, a, u, s, wantAdded, wantUpdated, skipped, report)
	}
	// The Google link is taken, the link of another provider is reported skipped.
	if a, u, s := reportCounts(t, report, "google links"); googleAdded >= 0 && (a != googleAdded || a+u != 2 || s != 1) {
		t.Errorf("%s: google links %d added, %d updated, %d skipped; want %d added, the facebook link skipped:\n%s", run, a, u, s, googleAdded, report)
	}
	if !regexp.MustCompile(`(?m)^skipped social_django\.usersocialauth pk=\d+: ` + regexp.QuoteMeta(auth.SkipProvider) + `$`).MatchString(report) {
		t.Errorf("%s: the facebook link is not reported skipped (%q):\n%s", run, auth.SkipProvider, report)
	}
}

func testImportFromDjango(t *testing.T, dbURL string, openStoreDB func() *sql.DB, pg bool) {
	f := makeDjangoFixture(t)
	var imported, skipped []djangoUser
	byEmail := map[string]djangoUser{}
	for _, u := range f.Users {
		byEmail[u.Email] = u
		if u.Expect == "imported" {
			imported = append(imported, u)
		} else {
			skipped = append(skipped, u)
		}
	}
	env := map[string]string{"AUTH_DATABASE_URL": dbURL}
	q := func(query string) string { // placeholders: ? on SQLite, $n on PostgreSQL
		for n := 1; pg && strings.Contains(query, "?"); n++ {
			query = strings.Replace(query, "?", "$"+strconv.Itoa(n), 1)
		}
		return query
	}
	count := func(db *sql.DB, table string) int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}

	// A dry run judges everything and reports as a real run would, and changes nothing. It needs
	// a database made already, which an empty import makes.
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runCmd(t, env, "import", "django", empty); err != nil {
		t.Fatalf("authd import django of an empty dump: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := runCmd(t, env, "import", "django", "-dry-run", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a dry run of a file that does not exist succeeded")
	}
	out, errOut, err := runCmd(t, env, "import", "django", "-dry-run", f.Dump)
	if err != nil {
		t.Fatalf("authd import django -dry-run: %v\n%s%s", err, out, errOut)
	}
	checkReport(t, "dry run", out, f, len(imported), 0, -1)
	if !strings.Contains(out, "dry run: nothing was changed") {
		t.Errorf("the dry run's report does not say it changed nothing:\n%s", out)
	}
	db := openStoreDB()
	for _, table := range []string{"users", "social_accounts", "legacy_tokens", "legacy_blacklist"} {
		if n := count(db, table); n != 0 {
			t.Errorf("after the dry run, %s has %d rows", table, n)
		}
	}

	// The real import, then the same again: the second run updates, adds nothing.
	out, errOut, err = runCmd(t, env, "import", "django", f.Dump)
	if err != nil {
		t.Fatalf("authd import django: %v\n%s%s", err, out, errOut)
	}
	checkReport(t, "first import", out, f, len(imported), 0, 2)
	out, errOut, err = runCmd(t, env, "import", "django", f.Dump)
	if err != nil {
		t.Fatalf("authd import django, again: %v\n%s%s", err, out, errOut)
	}
	checkReport(t, "second import", out, f, 0, len(imported), 0)
	if n := count(db, "users"); n != len(imported) {
		t.Errorf("%d users after two imports, want %d", n, len(imported))
	}

	// What was stored: the original's pk as the id, its hash as it was, nothing of the skipped.
	hashOf := func(email string) (id, hash string) {
		t.Helper()
		err := db.QueryRow(q(`SELECT id, password_hash FROM users WHERE email_key = ?`), strings.ToLower(email)).Scan(&id, &hash)
		if err == sql.ErrNoRows {
			return "", ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return id, hash
	}
	for _, u := range imported {
		id, hash := hashOf(u.Email)
		want := u.Hasher + "$"
		if u.Hasher == "unusable" {
			want = ""
		}
		if id != u.PK || !strings.HasPrefix(hash, want) || (want == "" && hash != "") {
			t.Errorf("%s stored as id %q with hash %.20q; want id %s and Django's %q hash", u.Email, id, hash, u.PK, want)
		}
	}
	for _, u := range skipped {
		var n int
		if err := db.QueryRow(q(`SELECT COUNT(*) FROM users WHERE id = ? OR legacy_id = ?`), u.PK, u.PK).Scan(&n); err != nil || n != 0 {
			t.Errorf("skipped %s (%s) is in the users table (%d rows, %v)", u.Email, u.PK, n, err)
		}
	}
	// Of the twins, the first was imported (that the second did not replace its password is checked
	// by signing in below).
	if _, hash := hashOf("twin@example.com"); hash == "" {
		t.Error("twin@example.com was not imported")
	}

	// The server, honouring the original's tokens; a fake Google for the Google users.
	google := authtest.StartGoogle(t, "authd-django.apps.googleusercontent.com", time.Now)
	s := startAuthd(t, map[string]string{
		"AUTH_DATABASE_URL": dbURL, "AUTH_LEGACY_JWT_SECRET": f.SecretKey,
		"AUTH_IP_RATE_LIMIT": "0", "AUTH_REFRESH_REUSE_WINDOW": "2s",
		"AUTH_GOOGLE_CLIENT_ID": google.ClientID, "AUTH_GOOGLE_CLIENT_SECRET": google.Secret,
		"AUTH_GOOGLE_TOKEN_URL": google.URL + "/token", "AUTH_GOOGLE_USERINFO_URL": google.URL + "/userinfo",
		"AUTH_GOOGLE_JWKS_URL": google.URL + "/jwks", "AUTH_GOOGLE_ISSUER": google.URL,
	})
	const refused = "No active account found with the given credentials"

	// Every imported password signs in, once re-hashed to authd's Argon2id, and wrong ones fail.
	for _, u := range imported {
		if u.Hasher == "unusable" || !u.Active {
			continue
		}
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": u.Email, "password": u.Password + "!"}); code != 401 || body["detail"] != refused {
			t.Errorf("%s (%s), a wrong password: %d %v, want 401", u.Email, u.Hasher, code, body)
		}
		code, pair := post(t, s.url+"/auth/token/", map[string]string{"email": u.Email, "password": u.Password})
		if code != 200 || pair["access"] == nil {
			t.Errorf("%s (%s): sign-in with the Django password: %d %v", u.Email, u.Hasher, code, pair)
			continue
		}
		if _, hash := hashOf(u.Email); !strings.HasPrefix(hash, "$argon2id$") {
			t.Errorf("%s (%s): after the first sign-in the hash is %.24q, want authd's $argon2id$", u.Email, u.Hasher, hash)
		}
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": u.Email, "password": u.Password}); code != 200 {
			t.Errorf("%s (%s): sign-in after the re-hash: %d %v", u.Email, u.Hasher, code, body)
		}
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": u.Email, "password": u.Password + "!"}); code != 401 {
			t.Errorf("%s (%s): a wrong password after the re-hash: %d %v", u.Email, u.Hasher, code, body)
		}
		checkProfile(t, s.url, pair["access"].(string), u)
	}
	// No password, an inactive account, a skipped record: no sign-in.
	for _, u := range append([]djangoUser{byEmail["unusable@example.com"], byEmail["inactive@example.com"]}, skipped...) {
		email, password := u.Email, u.Password
		if password == "" {
			password = "any password at all"
		}
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": password}); code != 401 {
			t.Errorf("%s (%s, %s): sign-in %d %v, want 401", email, u.Expect, u.Skip, code, body)
		}
	}
	// The second twin's password is not the first twin's; the same-phone user's is not pbkdf2's.
	for email, password := range map[string]string{"twin@example.com": byEmail["TWIN@example.com"].Password,
		"pbkdf2@example.com": byEmail["samephone@example.com"].Password} {
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": password}); code != 401 {
			t.Errorf("%s with a skipped record's password: %d %v, want 401", email, code, body)
		}
	}
	if _, hash := hashOf("inactive@example.com"); !strings.HasPrefix(hash, "pbkdf2_sha256$") {
		t.Errorf("the inactive user's hash is now %.24q: a refused sign-in re-hashed it", hash)
	}

	// The original's tokens.
	const invalid = "Token is invalid or expired"
	refresh := func(token string) (int, map[string]any) {
		return post(t, s.url+"/auth/token/refresh/", map[string]string{"refresh": token})
	}
	verify := func(token string) (int, map[string]any) {
		return post(t, s.url+"/auth/token/verify/", map[string]string{"token": token})
	}
	legacyUsers := []string{"pbkdf2@example.com", "argon2@example.com", "google@example.com"}
	for _, email := range legacyUsers {
		u := byEmail[email]
		legacy := u.Tokens["refresh_valid"]
		code, pair := refresh(legacy)
		if code != 200 || pair["access"] == nil || pair["refresh"] == nil {
			t.Errorf("%s: legacy refresh token: %d %v, want a pair of authd's", email, code, pair)
			continue
		}
		if kidOf(t, pair["access"].(string)) == "" {
			t.Errorf("%s: the legacy refresh gave an access token without a kid: not one of authd's", email)
		}
		if code, body := verify(pair["access"].(string)); code != 200 {
			t.Errorf("%s: the access token a legacy refresh gave: verify %d %v", email, code, body)
		}
		checkProfile(t, s.url, pair["access"].(string), u)
		// Inside the reuse window a retry gets the same successor; after it the token is used up.
		if code, again := refresh(legacy); code != 200 || again["refresh"] != pair["refresh"] {
			t.Errorf("%s: legacy refresh token retried inside the reuse window: %d %v, want the same refresh token", email, code, again)
		}
		code, next := refresh(pair["refresh"].(string))
		if code != 200 {
			t.Errorf("%s: refresh of the successor of a legacy token: %d %v", email, code, next)
		}
	}
	time.Sleep(2100 * time.Millisecond) // AUTH_REFRESH_REUSE_WINDOW
	for _, email := range legacyUsers {
		if code, body := refresh(byEmail[email].Tokens["refresh_valid"]); code != 401 || body["detail"] != invalid {
			t.Errorf("%s: legacy refresh token used a second time, past the reuse window: %d %v, want 401", email, code, body)
		}
	}
	for name, token := range map[string]string{
		"blacklisted":                    byEmail["pbkdf2@example.com"].Tokens["refresh_blacklisted"],
		"expired":                        byEmail["pbkdf2@example.com"].Tokens["refresh_expired"],
		"of the inactive user":           byEmail["inactive@example.com"].Tokens["refresh_valid"],
		"of a user who was not imported": byEmail["badphone@example.com"].Tokens["refresh_valid"],
		"an access token":                byEmail["pbkdf2@example.com"].Tokens["access"],
	} {
		if code, body := refresh(token); code != 401 || body["detail"] != invalid {
			t.Errorf("legacy refresh token %s: %d %v, want 401", name, code, body)
		}
	}
	for _, email := range []string{"pbkdf2@example.com", "argon2@example.com"} {
		if code, body := verify(byEmail[email].Tokens["access"]); code != 200 {
			t.Errorf("%s: legacy access token: verify %d %v, want 200", email, code, body)
		}
	}
	for name, token := range map[string]string{
		"of the inactive user":           byEmail["inactive@example.com"].Tokens["access"],
		"of a user who was not imported": byEmail["badphone@example.com"].Tokens["access"],
		"a refresh token":                byEmail["argon2@example.com"].Tokens["refresh_logout"],
	} {
		if code, body := verify(token); code != 401 {
			t.Errorf("legacy access token %s: verify %d %v, want 401", name, code, body)
		}
	}
	// Logout takes a legacy refresh token, which is then refused.
	logoutToken := byEmail["argon2@example.com"].Tokens["refresh_logout"]
	if code, body := post(t, s.url+"/auth/logout/", map[string]string{"refresh": logoutToken}); code != 200 {
		t.Errorf("logout with a legacy refresh token: %d %v, want 200", code, body)
	}
	if code, body := refresh(logoutToken); code != 401 {
		t.Errorf("a legacy refresh token after logout: %d %v, want 401", code, body)
	}

	// The Google users are linked by python-social-auth's uid: the links are stored, and signing
	// in with Google is the imported account. The uid is Google's subject (and Google now gives
	// another address), or the email, which the first sign-in re-keys to the subject.
	linkOwner := func(subject string) string {
		t.Helper()
		var owner string
		err := db.QueryRow(q(`SELECT user_id FROM social_accounts WHERE provider = ? AND subject = ?`), "google-oauth2", subject).Scan(&owner)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return owner
	}
	if n := count(db, "social_accounts"); n != 2 {
		t.Errorf("%d social links, want the two Google ones alone", n)
	}
	bySub, byMail := byEmail["google@example.com"], byEmail["Ada.Imported@gmail.com"]
	const newSub = "109876543210987654321"
	for _, c := range []struct {
		u         djangoUser
		at        string // the link's subject as imported
		now       string // and after the sign-in
		sub, mail string // who Google says signs in
	}{
		{bySub, bySub.GoogleUID, bySub.GoogleUID, bySub.GoogleUID, "goo.gle.renamed@gmail.com"},
		{byMail, strings.ToLower(byMail.GoogleUID), newSub, newSub, "ada.imported@gmail.com"},
	} {
		if owner := linkOwner(c.at); owner != c.u.PK {
			t.Errorf("%s: the imported Google link (uid %s) names user %q, want %s", c.u.Email, c.at, owner, c.u.PK)
		}
		idToken := google.IDToken(authtest.GoogleUser{Sub: c.sub, Email: c.mail, EmailVerified: true, GivenName: "Someone"}, nil)
		code, pair := post(t, s.url+"/auth/social/google-oauth2/", map[string]string{"access_code": idToken})
		if code != 200 || pair["access"] == nil {
			t.Errorf("%s: Google sign-in: %d %v, want 200 (not 201: no new account)", c.u.Email, code, pair)
			continue
		}
		if code, me := getMe(t, s.url, pair["access"].(string)); code != 200 || me["id"] != c.u.PK {
			t.Errorf("%s: Google sign-in reached account %v (%d), want the imported %s", c.u.Email, me["id"], code, c.u.PK)
		}
		if owner := linkOwner(c.now); owner != c.u.PK {
			t.Errorf("%s: after a Google sign-in the link of subject %s names user %q, want %s", c.u.Email, c.now, owner, c.u.PK)
		}
	}
	if n := count(db, "users"); n != len(imported) {
		t.Errorf("%d users after the Google sign-ins, want the %d imported", n, len(imported))
	}

	// Another import, now that passwords were re-hashed here: those are kept.
	rehashed := map[string]string{}
	for _, email := range []string{"pbkdf2@example.com", "scrypt@example.com", "unicode@example.com"} {
		if _, hash := hashOf(email); strings.HasPrefix(hash, "$argon2id$") {
			rehashed[email] = hash
		}
	}
	out, errOut, err = runCmd(t, env, "import", "django", f.Dump)
	if err != nil {
		t.Fatalf("authd import django, after sign-ins: %v\n%s%s", err, out, errOut)
	}
	checkReport(t, "third import", out, f, 0, len(imported), 0)
	// The email-keyed Google link was re-keyed to Google's subject by the sign-in: the import
	// does not bring it back beside the subject's.
	if owner := linkOwner(strings.ToLower(byMail.GoogleUID)); owner != "" {
		t.Errorf("a third import re-added the Google link keyed by email (%s), which the first Google sign-in had re-keyed to subject %s", strings.ToLower(byMail.GoogleUID), newSub)
	}
	if n := count(db, "social_accounts"); n != 2 {
		t.Errorf("%d social links after a third import, want the two Google ones", n)
	}
	for email, before := range rehashed {
		if _, hash := hashOf(email); hash != before {
			t.Errorf("%s: a third import replaced the re-hashed password with %.24q", email, hash)
		}
		if code, body := post(t, s.url+"/auth/token/", map[string]string{"email": email, "password": byEmail[email].Password}); code != 200 {
			t.Errorf("%s: sign-in after a third import: %d %v", email, code, body)
		}
	}
	if t.Failed() {
		t.Logf("the last import's report:\n%s%s", out, errOut)
	}
}

// getMe is GET /auth/me/ with an access token.
func getMe(t *testing.T, base, access string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", base+"/auth/me/", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// checkProfile checks that the account an access token names is the original's user as imported.
func checkProfile(t *testing.T, base, access string, u djangoUser) {
	t.Helper()
	code, me := getMe(t, base, access)
	if code != 200 {
		t.Errorf("%s: /auth/me/: %d %v", u.Email, code, me)
		return
	}
	var social []string
	if u.GoogleUID != "" {
		social = []string{"google-oauth2"}
	}
	var phone any
	if u.Phone != nil {
		phone = *u.Phone
	}
	// dumpdata writes times to the millisecond.
	joined, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(me["date_joined"]))
	got := fmt.Sprint(me["id"], me["email"], me["phone_no"], me["email_verified"], me["has_password"], me["social"])
	want := fmt.Sprint(u.PK, u.Email, phone, u.EmailVerified, true, social)
	if got != want || !joined.Equal(u.DateJoined.Truncate(time.Millisecond)) {
		t.Errorf("%s: /auth/me/ says %s joined %v, want %s joined %v", u.Email, got, me["date_joined"], want, u.DateJoined.Truncate(time.Millisecond))
	}
}
