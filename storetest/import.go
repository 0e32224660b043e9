package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// The importer's side of the store: moving in from the original Django service.

func imported(id, email, phone, hash string) auth.User {
	u := user(id, email, phone)
	u.PasswordHash = hash
	return u
}

const djangoHash = "pbkdf2_sha256$600000$salt$aGFzaA=="

// importUsers imports users and fails unless the outcomes are want (A added, U updated, or the
// skip reason).
func importUsers(t *testing.T, s Store, users []auth.User, legacy []string, dryRun bool, want ...string) {
	t.Helper()
	got, err := s.ImportUsers(ctx, users, legacy, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d outcomes for %d users", len(got), len(want))
	}
	for i, o := range got {
		if s := outcome(o); s != want[i] {
			t.Errorf("user %d (%s): %s, want %s", i, users[i].Email, s, want[i])
		}
	}
}

func outcome(o auth.ImportOutcome) string {
	switch {
	case o.Skipped != "":
		return o.Skipped
	case o.Added && !o.Updated:
		return "A"
	case o.Updated && !o.Added:
		return "U"
	}
	return fmt.Sprintf("%+v", o)
}

func absent(t *testing.T, s Store, email string) {
	t.Helper()
	if u, err := s.UserByEmailKey(ctx, auth.EmailKey(email)); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("%s: %+v, %v; want no such user", email, u, err)
	}
}

func testImportUsers(t *testing.T, s Store) {
	a := imported("5a0c7ad4-8c52-4bd9-a0f3-1c1d1c1d1c1d", "Ann@Example.com", "+442071838750", djangoHash)
	a.Address, a.EmailVerified = "1 Main St", true
	b := imported("b-new", "bob@example.com", "", djangoHash)
	c := imported("c-new", "cat@example.com", "+442071838751", djangoHash)
	importUsers(t, s, []auth.User{a, b, c}, []string{"1", "2", "3"}, false, "A", "A", "A")
	got, err := s.UserByEmailKey(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Email != a.Email || got.Address != "1 Main St" || got.Phone != a.Phone || !got.EmailVerified || !got.Active ||
		got.PasswordHash != djangoHash || !got.DateJoined.Equal(t0) {
		t.Fatalf("imported %+v", got)
	}
	// b re-hashed here, c changed its password here: both keep theirs.
	bob, _ := s.UserByEmailKey(ctx, "bob@example.com")
	if err := s.ReplacePasswordHash(ctx, bob.ID, djangoHash, "$argon2id$v=19$rehashed"); err != nil {
		t.Fatal(err)
	}
	cat, _ := s.UserByEmailKey(ctx, "cat@example.com")
	if err := s.ReplacePasswordHash(ctx, cat.ID, djangoHash, "$argon2id$v=19$changed"); err != nil {
		t.Fatal(err)
	}

	// The second run: names, address, phone, is_active, legacy id updated; email_verified only
	// upgraded; a Django hash replaced; the ids kept, whatever the run made up this time.
	a2 := imported("another-id", "ann@EXAMPLE.com", "+442071838759", "pbkdf2_sha256$700000$salt2$aGFzaDI=")
	a2.FirstName, a2.LastName, a2.Address, a2.Active, a2.EmailVerified = "Anne", "Smith", "2 High St", false, false
	b2 := imported("b-again", "BOB@example.com", "", "pbkdf2_sha256$1$x$eQ==")
	b2.EmailVerified = true
	c2 := imported("c-again", "cat@example.com", "+442071838751", djangoHash)
	// bob's record comes back under another primary key: the original deleted and made him
	// again, or the dump holds his email twice. That is no update of the account imported from
	// the first; the operator decides.
	importUsers(t, s, []auth.User{a2, b2, c2}, []string{"1", "20", "3"}, false, "U", auth.SkipEmailTaken, "U")
	got, _ = s.UserByEmailKey(ctx, "ann@example.com")
	if got.ID != a.ID || got.FirstName != "Anne" || got.LastName != "Smith" || got.Address != "2 High St" || got.Phone != "+442071838759" ||
		got.Active || !got.EmailVerified || got.PasswordHash != a2.PasswordHash {
		t.Errorf("after the second run %+v", got)
	}
	if taken, _ := s.PhoneTaken(ctx, "+442071838750"); taken {
		t.Error("the old phone number is still taken")
	}
	got, _ = s.UserByEmailKey(ctx, "bob@example.com")
	if got.ID != bob.ID || got.EmailVerified || got.PasswordHash != "$argon2id$v=19$rehashed" {
		t.Errorf("bob after the second run %+v", got)
	}
	got, _ = s.UserByEmailKey(ctx, "cat@example.com")
	if got.ID != cat.ID || got.PasswordHash != "$argon2id$v=19$changed" {
		t.Errorf("cat after the second run %+v", got)
	}
	// bob keeps the legacy id "2": links name it, not the skipped record's "20".
	links := []auth.ImportedSocial{{LegacyUserID: "20", Provider: "google-oauth2", UID: "sub-b"}, {LegacyUserID: "2", Provider: "google-oauth2", UID: "sub-x"}}
	out, err := s.ImportSocial(ctx, links, t0, false)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Skipped != auth.SkipNoUser || outcome(out[1]) != "A" {
		t.Errorf("links by legacy id: %+v", out)
	}
}

func testImportSkips(t *testing.T, s Store) {
	other := user("6b1d8be5-9d63-4cea-b104-2e2e2e2e2e2e", "other@example.com", "+442071838750")
	mustUser(t, s, other)
	users := []auth.User{
		imported("n1", "one@example.com", "+442071838751", djangoHash),
		imported("n2", "phone@example.com", "+442071838750", djangoHash), // the other account's phone
		imported("n3", "two@example.com", "", djangoHash),
		imported("n4", "legacy@example.com", "", djangoHash),   // one's legacy id, another email
		imported(other.ID, "uuid@example.com", "", djangoHash), // a UUID primary key already other's id
		imported("n6", "three@example.com", "+442071838753", djangoHash),
	}
	importUsers(t, s, users, []string{"1", "2", "3", "1", "5", "6"}, false,
		"A", auth.SkipPhoneTaken, "A", auth.SkipLegacyTaken, auth.SkipLegacyTaken, "A")
	for _, e := range []string{"phone@example.com", "legacy@example.com", "uuid@example.com"} {
		absent(t, s, e) // nothing of a skipped user is left, not even the row before its legacy id
	}
	for _, e := range []string{"one@example.com", "two@example.com", "three@example.com"} {
		if _, err := s.UserByEmailKey(ctx, e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	if got, _ := s.UserByID(ctx, other.ID); got.Email != other.Email {
		t.Errorf("the other account became %+v", got)
	}
	// An update that breaks a rule is skipped whole: none of its changes are kept.
	one := imported("n1-again", "one@example.com", "+442071838750", djangoHash)
	one.FirstName = "Changed"
	two := imported("n3-again", "two@example.com", "", djangoHash)
	two.FirstName = "Changed"
	importUsers(t, s, []auth.User{one, two}, []string{"1", "3"}, false, auth.SkipPhoneTaken, "U")
	if got, _ := s.UserByEmailKey(ctx, "one@example.com"); got.FirstName != "F" || got.Phone != "+442071838751" {
		t.Errorf("a skipped update was kept: %+v", got)
	}
	if got, _ := s.UserByEmailKey(ctx, "two@example.com"); got.FirstName != "Changed" {
		t.Errorf("an update after a skipped one was lost: %+v", got)
	}
	// An email imported under another legacy id, on update.
	three := imported("n6-again", "three@example.com", "", djangoHash)
	importUsers(t, s, []auth.User{three}, []string{"1"}, false, auth.SkipEmailTaken)
}

func testImportDryRun(t *testing.T, s Store) {
	importUsers(t, s, []auth.User{imported("e1", "old@example.com", "", djangoHash)}, []string{"2"}, false, "A")
	old := imported("e1-new", "old@example.com", "", djangoHash)
	old.FirstName = "Changed"
	importUsers(t, s, []auth.User{imported("d1", "dry@example.com", "", djangoHash), old}, []string{"1", "2"}, true, "A", "U")
	absent(t, s, "dry@example.com")
	if got, _ := s.UserByEmailKey(ctx, "old@example.com"); got.FirstName != "F" {
		t.Errorf("a dry run changed %+v", got)
	}
	importUsers(t, s, []auth.User{imported("d2", "real@example.com", "", djangoHash)}, []string{"3"}, false, "A")
	out, err := s.ImportSocial(ctx, []auth.ImportedSocial{{LegacyUserID: "3", Provider: "google-oauth2", UID: "sub"}}, t0, true)
	if err != nil || outcome(out[0]) != "A" {
		t.Fatalf("dry ImportSocial: %+v, %v", out, err)
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "sub"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("a dry run linked: %v", err)
	}
	err = s.ImportTokens(ctx, []auth.ImportedToken{{OutstandingPK: "1", JTI: "j1", LegacyUserID: "3", ExpiresAt: t0}},
		[]auth.ImportedBlacklisting{{OutstandingPK: "1", At: t0}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT COUNT(*) FROM legacy_tokens"); n != 0 {
		t.Errorf("a dry run kept %d tokens", n)
	}
	if n := count(t, s, "SELECT COUNT(*) FROM legacy_blacklist"); n != 0 {
		t.Errorf("a dry run kept %d blacklistings", n)
	}
}

func testImportSocial(t *testing.T, s Store) {
	importUsers(t, s, []auth.User{imported("s1", "one@example.com", "", djangoHash), imported("s2", "two@example.com", "", djangoHash)},
		[]string{"1", "2"}, false, "A", "A")
	mustUser(t, s, user("native", "native@example.com", ""))
	if err := s.CreateSocialUser(ctx, user("g", "g@example.com", ""), auth.SocialLink{Provider: "google-oauth2", Subject: "taken", EmailVerified: true, At: t0}); err != nil {
		t.Fatal(err)
	}
	links := []auth.ImportedSocial{
		{LegacyUserID: "1", Provider: "google-oauth2", UID: "sub1"},
		{LegacyUserID: "99", Provider: "google-oauth2", UID: "sub99"},
		{LegacyUserID: "2", Provider: "google-oauth2", UID: "sub1"},  // one's identity
		{LegacyUserID: "2", Provider: "google-oauth2", UID: "taken"}, // a Google user's here
		{LegacyUserID: "2", Provider: "google-oauth2", UID: "sub2"},
	}
	want := []string{"A", auth.SkipNoUser, auth.SkipSocialTaken, auth.SkipSocialTaken, "A"}
	for run := range 2 {
		out, err := s.ImportSocial(ctx, links, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			if got := outcome(o); got != want[i] {
				t.Errorf("run %d, link %d: %s, want %s", run+1, i, got, want[i])
			}
		}
		want[0], want[4] = "U", "U"
	}
	for sub, email := range map[string]string{"sub1": "one@example.com", "sub2": "two@example.com", "taken": "g@example.com"} {
		if u, err := s.UserBySocial(ctx, "google-oauth2", sub); err != nil || u.Email != email {
			t.Errorf("%s: %+v, %v; want %s", sub, u, err, email)
		}
	}
	one, _ := s.UserByEmailKey(ctx, "one@example.com")
	if l, err := s.SocialLinks(ctx, one.ID); err != nil || len(l) != 1 || !l[0].EmailVerified {
		t.Errorf("one's links: %+v, %v (an imported link counts as proven)", l, err)
	}
}

func testImportTokens(t *testing.T, s Store) {
	// The blacklisting comes in a batch before its outstanding token's: it applies all the same.
	if err := s.ImportTokens(ctx, nil, []auth.ImportedBlacklisting{{OutstandingPK: "2", At: t0}}, false); err != nil {
		t.Fatal(err)
	}
	tokens := []auth.ImportedToken{
		{OutstandingPK: "1", JTI: "j1", LegacyUserID: "7", ExpiresAt: t0.Add(time.Hour)},
		{OutstandingPK: "2", JTI: "j2", LegacyUserID: "7", ExpiresAt: t0.Add(time.Hour)},
		{OutstandingPK: "3", JTI: "j3", LegacyUserID: "8", ExpiresAt: t0.Add(time.Hour)},
	}
	black := []auth.ImportedBlacklisting{{OutstandingPK: "3", At: t0}}
	for range 2 { // a second run changes nothing
		if err := s.ImportTokens(ctx, tokens, black, false); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM legacy_tokens"); n != 3 {
			t.Errorf("%d tokens, want 3", n)
		}
		for jti, want := range map[string]int{"j1": 0, "j2": 1, "j3": 1} {
			q := "SELECT COUNT(*) FROM legacy_tokens t JOIN legacy_blacklist b ON b.outstanding_pk = t.outstanding_pk WHERE t.jti = '" + jti + "'"
			if n := count(t, s, q); n != want {
				t.Errorf("%s blacklisted %d times, want %d", jti, n, want)
			}
		}
	}
}

func testRekeySocial(t *testing.T, s Store) {
	importUsers(t, s, []auth.User{imported("r1", "one@example.com", "", djangoHash), imported("r2", "two@example.com", "", djangoHash)},
		[]string{"1", "2"}, false, "A", "A")
	if _, err := s.ImportSocial(ctx, []auth.ImportedSocial{{LegacyUserID: "1", Provider: "google-oauth2", UID: "one@example.com"},
		{LegacyUserID: "2", Provider: "google-oauth2", UID: "sub2"}}, t0, false); err != nil {
		t.Fatal(err)
	}
	if err := s.RekeySocial(ctx, "google-oauth2", "nobody@example.com", "sub9"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("re-keying no link: %v, want ErrNotFound", err)
	}
	if err := s.RekeySocial(ctx, "google-oauth2", "one@example.com", "sub2"); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("re-keying to a linked subject: %v, want ErrConflict", err)
	}
	if err := s.RekeySocial(ctx, "google-oauth2", "one@example.com", "sub1"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserBySocial(ctx, "google-oauth2", "sub1"); err != nil || u.Email != "one@example.com" {
		t.Errorf("after re-keying: %+v, %v", u, err)
	}
	if _, err := s.UserBySocial(ctx, "google-oauth2", "one@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the old subject still links: %v", err)
	}
	if u, err := s.UserBySocial(ctx, "google-oauth2", "sub2"); err != nil || u.Email != "two@example.com" {
		t.Errorf("the conflicting link changed: %+v, %v", u, err)
	}
}

// count runs a query of one number. The legacy token tables have no reads in the store yet
// besides the legacy-token flows', so the suite looks at them directly.
func count(t *testing.T, s Store, q string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(ctx, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An account made here, not imported, is never taken by an import of its email: whoever held the
// address at the original may not be its owner.
func testImportLeavesNativeAccounts(t *testing.T, s Store) {
	native := user("7c2e9cf6-0e74-4d1f-9a53-3f3f3f3f3f3f", "native@example.com", "+442071838752")
	mustUser(t, s, native)
	in := imported("n-1", "NATIVE@example.com", "", djangoHash)
	in.FirstName = "Mallory"
	importUsers(t, s, []auth.User{in}, []string{"9"}, false, auth.SkipNativeEmail)
	if got, _ := s.UserByEmailKey(ctx, "native@example.com"); got.FirstName == "Mallory" || got.PasswordHash == djangoHash {
		t.Errorf("the import took the account made here: %+v", got)
	}
	if _, err := s.UserByLegacyID(ctx, "9"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the skipped record's legacy id was set: %v", err)
	}
}
