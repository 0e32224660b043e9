package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sub", "authd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDurabilitySettings(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000", "journal_size_limit": "67108864"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
}

// Without a foreign key, a revoked sign-in is purged before its tokens; they are refused from
// then on, and purged themselves once expired, so none is left behind.
func TestTokensOfAPurgedSignInArePurgedWhenTheyExpire(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.CreateUser(ctx, auth.User{ID: "u1", Email: "a@x.io", Active: true, DateJoined: t0}, nil, nil); err != nil {
		t.Fatal(err)
	}
	first := auth.RefreshToken{JTI: "t1", SessionID: "s1", UserID: "u1", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, auth.Session{ID: "s1", UserID: "u1", CreatedAt: t0}, first); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "s1", t0); err != nil {
		t.Fatal(err)
	}
	tokens := func() (n int) {
		s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens`).Scan(&n)
		return n
	}
	purge := func(at time.Time) {
		for {
			if n, err := s.Purge(ctx, at, 100, 0); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				return
			}
		}
	}
	purge(t0.Add(time.Minute))
	if _, err := s.RefreshState(ctx, "t1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("token of a purged sign-in: %v, want ErrNotFound", err)
	}
	if n := tokens(); n != 1 {
		t.Fatalf("%d tokens before they expire, want 1", n)
	}
	purge(t0.Add(2 * time.Hour))
	if n := tokens(); n != 0 {
		t.Fatalf("%d tokens left after they expired, want 0", n)
	}
}

// The store's limiter counts on the clock it is given, in windows that every limiter on the
// database shares, and the database sees only digests of its keys.
func TestLimiterCountsInTheDatabase(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := authtest.NewClock()
	clock.Tick = 0 // exact arithmetic on the window below
	a, b := s.Limiter(clock.Now), s.Limiter(clock.Now)
	const key, window = "login-failures:ann@example.com", 15 * time.Minute
	for i := 1; i <= 12; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		ok, retry, err := l.Hit(ctx, key, 10, window)
		if err != nil || ok != (i <= 10) {
			t.Fatalf("hit %d: ok %v, err %v; want ok only for the first 10", i, ok, err)
		}
		if want := window - time.Duration(i-1)*time.Second; retry != want {
			t.Fatalf("hit %d: retry %v, want %v", i, retry, want)
		}
		clock.Advance(time.Second)
	}
	if n, retry, err := b.Count(ctx, key, window); err != nil || n != 12 || retry != window-12*time.Second {
		t.Fatalf("Count = %d, %v, %v; want 12, %v", n, retry, err, window-12*time.Second)
	}
	var stored string
	if err := s.DB().QueryRowContext(ctx, `SELECT key_hash FROM limits`).Scan(&stored); err != nil || strings.Contains(stored, "ann") {
		t.Fatalf("stored key %q (%v), want a digest", stored, err)
	}
	if err := a.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n, retry, err := b.Count(ctx, key, window); err != nil || n != 0 || retry != 0 {
		t.Fatalf("Count after Reset = %d, %v, %v; want 0, 0", n, retry, err)
	}
	if ok, retry, _ := a.Hit(ctx, key, 10, window); !ok || retry != window {
		t.Fatalf("first hit after a reset: ok %v, retry %v; want ok, %v", ok, retry, window)
	}
}
