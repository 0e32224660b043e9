package mail_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
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
	store.AddResetCode(ctx, auth.ResetCode{ID: "c", EmailKey: "a@x.io", Hash: []byte("h"), CreatedAt: now, ExpiresAt: now},
		&auth.Outgoing{Payload: []byte("p"), CreatedAt: now}, 0, now)
	tr := &failing{}
	s := mail.NewSender(store, tr, func([]byte) (auth.Message, error) { return auth.Message{To: "a@x.io"}, nil }, slog.New(slog.DiscardHandler))
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
