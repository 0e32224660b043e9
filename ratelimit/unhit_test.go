package ratelimit_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/ratelimit"
)

// An unhit takes back one event, never below zero, in memory and in Redis.
func TestUnhit(t *testing.T) {
	limiters := map[string]func(t *testing.T) auth.Limiter{
		"memory": func(*testing.T) auth.Limiter { return ratelimit.NewMemory(nil) },
		"redis": func(t *testing.T) auth.Limiter {
			r, err := ratelimit.NewRedis(authtest.RedisURL(t), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		},
	}
	for name, open := range limiters {
		t.Run(name, func(t *testing.T) {
			l := open(t)
			ctx := context.Background()
			key := "test:" + rand.Text()
			for range 2 {
				l.Hit(ctx, key, 2, time.Minute)
			}
			if ok, _, _ := l.Hit(ctx, key, 2, time.Minute); ok {
				t.Fatal("the third hit of a limit of two was allowed")
			}
			for range 5 {
				if err := l.Unhit(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			if n, _, err := l.Count(ctx, key, time.Minute); err != nil || n != 0 {
				t.Fatalf("count after more unhits than hits: %d %v, want 0", n, err)
			}
			if ok, _, _ := l.Hit(ctx, key, 1, time.Minute); !ok {
				t.Fatal("a hit after the unhits was refused")
			}
		})
	}
}
