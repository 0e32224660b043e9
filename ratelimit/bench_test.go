package ratelimit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/ratelimit"
)

func BenchmarkMemory(b *testing.B) { benchLimiter(b, ratelimit.NewMemory(nil)) }

func BenchmarkRedis(b *testing.B) {
	r, err := ratelimit.NewRedis(authtest.RedisURL(b), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	benchLimiter(b, r)
}

// benchLimiter measures each limiter operation over 1,000 keys, as the per-address and
// per-email limits spread their counts.
func benchLimiter(b *testing.B, l auth.Limiter) {
	ctx := context.Background()
	run := rand.Text()[:8] // keys of earlier runs may still be in Redis
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:%s:%d", run, i)
	}
	ops := []struct {
		name string
		op   func(key string) error
	}{
		{"Hit", func(key string) error { _, _, err := l.Hit(ctx, key, 1_000_000, time.Minute); return err }},
		{"Count", func(key string) error { _, _, err := l.Count(ctx, key, time.Minute); return err }},
		{"Reset", func(key string) error { return l.Reset(ctx, key) }},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := o.op(keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
