package django_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/django"
)

// records reads every record of dump, or the first error.
func records(t *testing.T, dump string) ([]django.Record, error) {
	t.Helper()
	r := django.NewReader(strings.NewReader(dump))
	var recs []django.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

func mustRecords(t *testing.T, dump string) []django.Record {
	t.Helper()
	recs, err := records(t, dump)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A dump as manage.py dumpdata --indent 2 writes it.
const normalDump = `[
{
  "model": "accounts.user",
  "pk": 1,
  "fields": {
    "password": "pbkdf2_sha256$600000$abc$ZGVm",
    "last_login": null,
    "is_superuser": false,
    "email": "Ann@Example.com",
    "first_name": "Ann",
    "last_name": "Smith",
    "address": "1 Main St\nFlat 2",
    "phone_no": "+442071838750",
    "email_verified": true,
    "is_active": false,
    "date_joined": "2024-01-02T03:04:05.678Z",
    "groups": [],
    "user_permissions": []
  }
},
{
  "model": "social_django.usersocialauth",
  "pk": 3,
  "fields": {"user": 1, "provider": "google-oauth2", "uid": "1234567890", "extra_data": {"auth_time": 1}, "created": "2024-01-02T03:04:05Z", "modified": "2024-01-02T03:04:05Z"}
},
{
  "model": "token_blacklist.outstandingtoken",
  "pk": 7,
  "fields": {"user": 1, "jti": "a1b2c3", "token": "x.y.z", "created_at": "2024-01-02T03:04:05.678Z", "expires_at": "2024-01-09T03:04:05.678Z"}
},
{
  "model": "token_blacklist.blacklistedtoken",
  "pk": 2,
  "fields": {"token": 7, "blacklisted_at": "2024-01-03T00:00:00Z"}
},
{"model": "auth.group", "pk": 1, "fields": {"name": "staff", "permissions": []}}
]
`

func TestReaderReadsADump(t *testing.T) {
	recs := mustRecords(t, normalDump)
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	u, err := django.User(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := auth.ImportedUser{LegacyID: "1", Email: "Ann@Example.com", FirstName: "Ann", LastName: "Smith", Address: "1 Main St\nFlat 2",
		Phone: "+442071838750", PasswordHash: "pbkdf2_sha256$600000$abc$ZGVm", Active: false, EmailVerified: true,
		DateJoined: time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)}
	if u != want {
		t.Errorf("user\n%+v, want\n%+v", u, want)
	}
	if s, err := django.Social(recs[1]); err != nil || s != (auth.ImportedSocial{LegacyUserID: "1", Provider: "google-oauth2", UID: "1234567890"}) {
		t.Errorf("social %+v, %v", s, err)
	}
	if tok, err := django.Outstanding(recs[2]); err != nil || tok != (auth.ImportedToken{OutstandingPK: "7", JTI: "a1b2c3", LegacyUserID: "1",
		ExpiresAt: time.Date(2024, 1, 9, 3, 4, 5, 678e6, time.UTC)}) {
		t.Errorf("outstanding %+v, %v", tok, err)
	}
	if b, err := django.Blacklisted(recs[3]); err != nil || b != (auth.ImportedBlacklisting{OutstandingPK: "7", At: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)}) {
		t.Errorf("blacklisted %+v, %v", b, err)
	}
	for i, want := range []string{"accounts.user", django.ModelSocial, django.ModelOutstanding, django.ModelBlacklisted, "auth.group"} {
		if recs[i].Model != want {
			t.Errorf("record %d: model %q, want %q", i, recs[i].Model, want)
		}
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset || recs[i].Offset > int64(len(normalDump)) {
			t.Errorf("offsets %d then %d", recs[i-1].Offset, recs[i].Offset)
		}
	}
	if recs, err := records(t, "[]"); err != nil || len(recs) != 0 {
		t.Errorf("an empty dump: %v, %v", recs, err)
	}
}

func TestReaderPrimaryKeys(t *testing.T) {
	for _, c := range []struct{ pk, want string }{
		{`1`, "1"}, {`"1"`, "1"}, {`12345678901234567890`, "12345678901234567890"},
		{`"5a0c7ad4-8c52-4bd9-a0f3-1c1d1c1d1c1d"`, "5a0c7ad4-8c52-4bd9-a0f3-1c1d1c1d1c1d"}, {`null`, ""},
	} {
		recs, err := records(t, `[{"model": "Accounts.User", "pk": `+c.pk+`, "fields": {"email": "a@x.io", "password": ""}}]`)
		if err != nil || len(recs) != 1 || recs[0].PK != c.want || recs[0].Model != "accounts.user" {
			t.Errorf("pk %s: %+v, %v; want %q", c.pk, recs, err, c.want)
		}
	}
	for _, pk := range []string{`true`, `[1]`, `{"a": 1}`} {
		if _, err := records(t, `[{"model": "a.user", "pk": `+pk+`, "fields": {}}]`); err == nil || !strings.Contains(err.Error(), "pk") {
			t.Errorf("pk %s: %v, want an error naming pk", pk, err)
		}
	}
}

func TestReaderMissingFields(t *testing.T) {
	recs := mustRecords(t, `[{"model": "accounts.user", "pk": "9", "fields": {"email": "a@x.io", "password": "!unusable"}}]`)
	u, err := django.User(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if u != (auth.ImportedUser{LegacyID: "9", Email: "a@x.io", PasswordHash: "!unusable", Active: true}) {
		t.Errorf("a user without address, email_verified, is_active, date_joined: %+v", u)
	}
	recs = mustRecords(t, `[{"model": "accounts.user", "pk": "9", "fields": {"email": "a@x.io", "password": "", "is_active": null, "address": null, "phone_no": null}}]`)
	if u, err := django.User(recs[0]); err != nil || !u.Active || u.Address != "" || u.Phone != "" {
		t.Errorf("nulls: %+v, %v", u, err)
	}
	for _, f := range []string{`"is_active": "yes"`, `"email": 5.5e`, `"email": ["a"]`, `"email_verified": 1`, `"date_joined": "yesterday"`, `"date_joined": 1700000000`} {
		recs, err := records(t, `[{"model": "accounts.user", "pk": 1, "fields": {"password": "", `+f+`}}]`)
		if err != nil {
			continue // unreadable JSON: the reader's error
		}
		if _, err := django.User(recs[0]); err == nil {
			t.Errorf("%s: no error", f)
		}
	}
}

func TestReaderTimes(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	for s, want := range map[string]time.Time{
		"2024-01-02T03:04:05.678Z":      want,
		"2024-01-02T03:04:05.678+00:00": want,
		"2024-01-02T05:04:05.678+02:00": want,
		"2024-01-02T03:04:05.678":       want, // USE_TZ = False: naive, taken as UTC
		"2024-01-02T03:04:05.678123":    want.Add(123 * time.Microsecond),
		"2024-01-02T03:04:05":           want.Truncate(time.Second),
		"2024-01-02T03:04:05Z":          want.Truncate(time.Second),
		"2024-01-02 03:04:05.678+00:00": want,
	} {
		recs := mustRecords(t, `[{"model": "accounts.user", "pk": 1, "fields": {"email": "a@x.io", "password": "", "date_joined": "`+s+`"}}]`)
		u, err := django.User(recs[0])
		if err != nil || !u.DateJoined.Equal(want) || u.DateJoined.Location() != time.UTC {
			t.Errorf("%s: %v, %v; want %v", s, u.DateJoined, err, want)
		}
	}
}

func TestReaderBrokenDumps(t *testing.T) {
	big := `[{"model": "accounts.user", "pk": 1, "fields": {"email": "a@x.io", "password": "` + strings.Repeat("x", 2<<20) + `"}}]`
	for name, c := range map[string]struct{ dump, want string }{
		"empty":              {"", "not a dumpdata file"},
		"an object":          {`{"model": "accounts.user"}`, "not a dumpdata file"},
		"a string":           {`"hello"`, "not a dumpdata file"},
		"not JSON":           {"model,pk\n1,2\n", "not a dumpdata file"},
		"truncated":          {normalDump[:len(normalDump)/2], "record at byte"},
		"no closing bracket": {`[{"model": "a.b", "pk": 1, "fields": {}}`, "dump ends early"},
		"after the last":     {`[{"model": "a.b", "pk": 1, "fields": {}},]`, "record at byte"},
		"a number":           {`[{"model": "a.b", "pk": 1, "fields": {}}, 5]`, "record at byte"},
		"a list":             {`[[1, 2]]`, "record at byte"},
		"a null":             {`[null]`, "record at byte"},
		"fields not a map":   {`[{"model": "a.b", "pk": 1, "fields": [1]}]`, "record at byte"},
		"model not a string": {`[{"model": 5, "pk": 1, "fields": {}}]`, "record at byte"},
		"2 MB record":        {big, "longer than"},
	} {
		recs, err := records(t, c.dump)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %d records, error %v; want one line with %q", name, len(recs), err, c.want)
		}
	}
}

func TestIsUser(t *testing.T) {
	recs := mustRecords(t, normalDump)
	custom := mustRecords(t, `[{"model": "shop.customer", "pk": 1, "fields": {"email": "a@x.io", "password": "x"}},
		{"model": "shop.newsletter", "pk": 1, "fields": {"email": "a@x.io"}}]`)
	for _, c := range []struct {
		rec   django.Record
		model string
		want  bool
	}{
		{recs[0], "", true}, {recs[0], "accounts.user", true}, {recs[0], "Accounts.User", true}, {recs[0], "shop.customer", false},
		{recs[1], "", false}, {recs[2], "", false}, {recs[3], "", false}, {recs[4], "", false},
		{custom[0], "", true}, {custom[0], "accounts.user", false}, {custom[0], "shop.customer", true}, {custom[1], "", false},
	} {
		if got := django.IsUser(c.rec, c.model); got != c.want {
			t.Errorf("IsUser(%s, %q) = %t", c.rec.Model, c.model, got)
		}
	}
}

// The reader never panics, and ends on any input: each Next consumes input or fails.
func FuzzReader(f *testing.F) {
	f.Add([]byte(normalDump))
	f.Add([]byte(`[{"model": "a.b", "pk": "1", "fields": {"date_joined": "2024-01-02T03:04:05"}}]`))
	f.Add([]byte(`[null, 1, "x"]`))
	f.Add([]byte(`[{"pk": {"a": [}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := django.NewReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("more records than bytes: %q", data)
			}
			rec, err := r.Next()
			if err != nil {
				return
			}
			django.IsUser(rec, "")
			django.User(rec)
			django.Social(rec)
			django.Outstanding(rec)
			django.Blacklisted(rec)
		}
	})
}
