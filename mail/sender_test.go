package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/mail"
	"github.com/authd/authd/sqlite"
)

type failing struct{ calls int }

func (f *failing) Send(context.Context, string, auth.Message) error {
	f.calls++
	return errors.New("connection refused")
}

func TestUndeliverableMailIsGivenUpAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := authtest.NewClock()
	now := clock.Now()
	store.AddCode(ctx, auth.Code{ID: "c", EmailKey: "a@x.io", Hash: []byte("h"), CreatedAt: now, ExpiresAt: now},
		&auth.Outgoing{Payload: []byte("p"), CreatedAt: now}, 0, now)
	tr := &failing{}
	s := mail.NewSender(store, tr, func([]byte) (auth.Message, error) { return auth.Message{To: "a@x.io"}, nil }, nil, slog.New(slog.DiscardHandler))
	s.Now, s.MaxAttempts = clock.Now, 3
	for range 10 {
		s.Drain(ctx)
		clock.Advance(time.Hour)
	}
	if tr.calls != 3 {
		t.Fatalf("%d attempts, want 3", tr.calls)
	}
	var dead int
	var payload []byte
	store.DB().QueryRow(`SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL`).Scan(&dead)
	store.DB().QueryRow(`SELECT payload FROM outbox`).Scan(&payload)
	if dead != 1 || len(payload) != 0 {
		t.Fatalf("dead rows %d, payload %q: want the row dead and emptied", dead, payload)
	}
}

func TestSMTPURLs(t *testing.T) {
	for url, ok := range map[string]bool{
		"smtp://mail.example.com:587":         true,
		"smtps://user:pass@mail.example.com":  true,
		"smtp://mail.example.com":             true,
		"http://mail.example.com":             false,
		"smtp://":                             false,
		"smtps://user:pa%zz@mail.example.com": false,
	} {
		_, err := mail.NewSMTP(url, "a@b.co", time.Second)
		if (err == nil) != ok {
			t.Errorf("NewSMTP(%q) = %v", url, err)
		}
	}
}

// Without SMTP an email is one log line that says it went to the log, with its code in a field
// of its own, and no second line claiming it was sent.
func TestLogMailerWritesOneLineWithTheCode(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	must(t, store.AddCode(ctx, auth.Code{ID: "c", EmailKey: "a@x.io", Hash: []byte("h"), CreatedAt: now, ExpiresAt: now},
		&auth.Outgoing{Payload: []byte("p"), CreatedAt: now}, 0, now))
	var logs authtest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	msg := auth.Message{To: "a@x.io", Subject: "Your password reset code", Text: "Your code is: 042917", Code: "042917"}
	s := mail.NewSender(store, mail.Log{Logger: log}, func([]byte) (auth.Message, error) { return msg, nil }, nil, log)
	if n := s.Drain(ctx); n != 1 {
		t.Fatalf("drained %d emails, want 1", n)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines for one email, want 1:\n%s", len(lines), logs.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["code"] != "042917" || entry["to"] != "a@x.io" || !strings.Contains(entry["msg"].(string), "written to the log, not sent") {
		t.Fatalf("log line %s", lines[0])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
