// Package django reads what the original service, a Django project, hands over when moving in:
// the JSON array that `manage.py dumpdata` writes, one record at a time, so that a dump of
// millions of users is never held in memory whole.
package django

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

// The models of the original whose records are read besides the user model's.
const (
	ModelSocial      = "social_django.usersocialauth"
	ModelOutstanding = "token_blacklist.outstandingtoken"
	ModelBlacklisted = "token_blacklist.blacklistedtoken"
)

// maxRecordBytes bounds one record: a user is well under a kilobyte, so a larger one is not a
// record of the dump but a damaged or hostile file.
const maxRecordBytes = 1 << 20

// Record is one record of a dump: its model ("accounts.user"), primary key as text, and fields.
type Record struct {
	Model  string
	PK     string
	Fields map[string]json.RawMessage
	// Offset is where the record ends in the input, for progress.
	Offset int64
}

// Reader reads a dump's records in order.
type Reader struct {
	dec     *json.Decoder
	lim     *limitedRecords
	started bool
}

// NewReader reads the dump in r.
func NewReader(r io.Reader) *Reader {
	lim := &limitedRecords{r: r}
	dec := json.NewDecoder(bufio.NewReaderSize(lim, 64<<10))
	dec.UseNumber()
	return &Reader{dec: dec, lim: lim}
}

// limitedRecords fails a read once more than maxRecordBytes went by without the decoder
// finishing a record; Next resets it.
type limitedRecords struct {
	r    io.Reader
	read int64
}

func (l *limitedRecords) Read(p []byte) (int, error) {
	if l.read > maxRecordBytes {
		return 0, fmt.Errorf("a record longer than %d bytes", maxRecordBytes)
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// Next returns the next record, or io.EOF after the last.
func (r *Reader) Next() (Record, error) {
	if !r.started {
		tok, err := r.dec.Token()
		if err != nil {
			return Record{}, fmt.Errorf("not a dumpdata file: %w", eofIsUnexpected(err))
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return Record{}, errors.New("not a dumpdata file: it does not start with a JSON array")
		}
		r.started = true
	}
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			return Record{}, fmt.Errorf("dump ends early: %w", eofIsUnexpected(err))
		}
		return Record{}, io.EOF
	}
	// The decoder and the buffer read ahead at most their sizes, so the bound is per record give
	// or take that.
	r.lim.read = 0
	var raw *struct {
		Model  string                     `json:"model"`
		PK     json.RawMessage            `json:"pk"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := r.dec.Decode(&raw); err != nil {
		return Record{}, fmt.Errorf("record at byte %d: %w", r.dec.InputOffset(), eofIsUnexpected(err))
	}
	if raw == nil { // null: decoding it into a struct would make an empty record of it
		return Record{}, fmt.Errorf("record at byte %d: null, not an object", r.dec.InputOffset())
	}
	pk, err := text(raw.PK)
	if err != nil {
		return Record{}, fmt.Errorf("record at byte %d: pk: %w", r.dec.InputOffset(), err)
	}
	return Record{Model: strings.ToLower(raw.Model), PK: pk, Fields: raw.Fields, Offset: r.dec.InputOffset()}, nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// text returns a JSON string, number or null as text ("" for null).
func text(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	}
	return "", fmt.Errorf("want a string or a number, got %s", raw)
}

// IsUser reports whether rec is a record of the user model: userModel ("accounts.user") when
// given, otherwise any model with an email and a password that is none of the others read.
func IsUser(rec Record, userModel string) bool {
	if userModel != "" {
		return rec.Model == strings.ToLower(userModel)
	}
	_, email := rec.Fields["email"]
	_, password := rec.Fields["password"]
	return email && password && rec.Model != ModelSocial && !strings.HasPrefix(rec.Model, "token_blacklist.")
}

// User reads a user record. Fields the original's model lacks are left empty (address,
// email_verified) or take Django's default (is_active true).
func User(rec Record) (auth.ImportedUser, error) {
	u := auth.ImportedUser{LegacyID: rec.PK, Active: true}
	var err error
	for _, f := range []struct {
		name string
		to   *string
	}{{"email", &u.Email}, {"first_name", &u.FirstName}, {"last_name", &u.LastName}, {"address", &u.Address},
		{"phone_no", &u.Phone}, {"password", &u.PasswordHash}} {
		if *f.to, err = field(rec, f.name); err != nil {
			return u, err
		}
	}
	if u.Active, err = flag(rec, "is_active", true); err != nil {
		return u, err
	}
	if u.EmailVerified, err = flag(rec, "email_verified", false); err != nil {
		return u, err
	}
	if u.DateJoined, err = timeField(rec, "date_joined"); err != nil {
		return u, err
	}
	return u, nil
}

// Social reads a social_django.usersocialauth record.
func Social(rec Record) (auth.ImportedSocial, error) {
	var s auth.ImportedSocial
	var err error
	if s.LegacyUserID, err = field(rec, "user"); err != nil {
		return s, err
	}
	if s.Provider, err = field(rec, "provider"); err != nil {
		return s, err
	}
	s.UID, err = field(rec, "uid")
	return s, err
}

// Outstanding reads a token_blacklist.outstandingtoken record.
func Outstanding(rec Record) (auth.ImportedToken, error) {
	t := auth.ImportedToken{OutstandingPK: rec.PK}
	var err error
	if t.JTI, err = field(rec, "jti"); err != nil {
		return t, err
	}
	if t.LegacyUserID, err = field(rec, "user"); err != nil {
		return t, err
	}
	t.ExpiresAt, err = timeField(rec, "expires_at")
	return t, err
}

// Blacklisted reads a token_blacklist.blacklistedtoken record.
func Blacklisted(rec Record) (auth.ImportedBlacklisting, error) {
	var b auth.ImportedBlacklisting
	var err error
	if b.OutstandingPK, err = field(rec, "token"); err != nil {
		return b, err
	}
	b.At, err = timeField(rec, "blacklisted_at")
	return b, err
}

func field(rec Record, name string) (string, error) {
	raw, ok := rec.Fields[name]
	if !ok {
		return "", nil
	}
	s, err := text(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func flag(rec Record, name string, absent bool) (bool, error) {
	raw, ok := rec.Fields[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return absent, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("%s: want true or false, got %s", name, raw)
	}
	return b, nil
}

// timeField reads a time as Django's JSON encoder writes it: ISO 8601, "Z" for UTC, or without
// a zone when the project ran with USE_TZ off (taken as UTC).
func timeField(rec Record, name string) (time.Time, error) {
	s, err := field(rec, name)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: not a time: %q", name, s)
}
