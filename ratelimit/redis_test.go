package ratelimit_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
	"github.com/authd/authd/ratelimit"
)

func TestRedisSharesCountsBetweenInstances(t *testing.T) {
	url := authtest.RedisURL(t)
	ctx := context.Background()
	a, err := ratelimit.NewRedis(url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ratelimit.NewRedis(url, slog.New(slog.DiscardHandler))
	defer a.Close()
	defer b.Close()
	key := "test:" + rand.Text()
	allowed := 0
	for i := range 10 {
		limiter := a
		if i%2 == 1 {
			limiter = b
		}
		if ok, _, err := limiter.Hit(ctx, key, 4, time.Minute); err != nil {
			t.Fatal(err)
		} else if ok {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("%d hits allowed across two instances, want 4", allowed)
	}
	n, retry, _ := b.Count(ctx, key, time.Minute)
	if n != 10 || retry <= 0 || retry > time.Minute {
		t.Fatalf("count %d retry %v", n, retry)
	}
	a.Reset(ctx, key)
	if n, _, _ := b.Count(ctx, key, time.Minute); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRedisDownFallsBackToMemoryLimits(t *testing.T) {
	var logs authtest.Buffer
	r, err := ratelimit.NewRedis("redis://127.0.0.1:1/0", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	start := time.Now()
	allowed := 0
	for range 5 {
		ok, _, err := r.Hit(ctx, "k", 3, time.Minute)
		if err != nil {
			t.Fatalf("a Redis outage reached the caller: %v", err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d allowed with Redis down, want 3: limits must not fail open", allowed)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("five hits took %v with Redis down", time.Since(start))
	}
	if r.Ping(ctx) == nil {
		t.Fatal("Ping says a dead Redis is fine")
	}
	if !strings.Contains(logs.String(), `"event":"redis_down"`) {
		t.Fatal("the outage was not logged")
	}
}

func TestRedisHitsPastTheLimitAreCountedAndKeepTheWindowsEnd(t *testing.T) {
	r, err := ratelimit.NewRedis(authtest.RedisURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	key := "test:" + rand.Text()
	defer r.Reset(ctx, key)
	const window = 15 * time.Minute
	// The first hit begins the window: it ends 15 minutes after a moment between first and begun.
	first := time.Now()
	if ok, _, err := r.Hit(ctx, key, 10, window); !ok || err != nil {
		t.Fatalf("first hit: ok %v, err %v", ok, err)
	}
	begun := time.Now()
	var allowed atomic.Int64
	allowed.Store(1)
	var wg sync.WaitGroup
	for range 39 {
		wg.Go(func() {
			ok, retry, err := r.Hit(ctx, key, 10, window)
			if err != nil || retry <= 0 || retry > window {
				t.Errorf("Hit: retry %v, err %v", retry, err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 10 {
		t.Fatalf("%d of 40 hits allowed, 39 of them at once; want 10", allowed.Load())
	}
	// A hit past the limit still counts, and reports the end of the window the first hit began.
	before := time.Now()
	ok, retry, _ := r.Hit(ctx, key, 10, window)
	after := time.Now()
	if ok {
		t.Fatal("the 41st hit was allowed")
	}
	const slack = 2 * time.Millisecond // Redis counts whole milliseconds
	if earliest, latest := window-after.Sub(first)-slack, window-before.Sub(begun)+slack; retry < earliest || retry > latest {
		t.Fatalf("retry %v, want the window's end: between %v and %v", retry, earliest, latest)
	}
	if n, _, _ := r.Count(ctx, key, window); n != 41 {
		t.Fatalf("count %d, want 41", n)
	}
}

// A limiter made WithFallback counts in its fallback while Redis is down, the connection's other
// limiters in memory.
func TestRedisDownFallsBackToTheGivenLimiter(t *testing.T) {
	ctx := context.Background()
	r, err := ratelimit.NewRedis("redis://127.0.0.1:1/0", slog.New(slog.DiscardHandler)) // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	shared := ratelimit.NewMemory(nil) // stands for the database every instance shares
	failures := r.WithFallback(shared)
	for range 3 {
		if _, _, err := failures.Hit(ctx, "k", 10, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	r.Hit(ctx, "k", 10, time.Minute)
	if n, _, _ := shared.Count(ctx, "k", time.Minute); n != 3 {
		t.Fatalf("the fallback counted %d hits, want the 3 made through it", n)
	}
	if n, _, _ := r.Count(ctx, "k", time.Minute); n != 1 {
		t.Fatalf("the connection's own limiter counted %d, want 1 in its memory", n)
	}
}
