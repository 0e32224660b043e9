package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
)

func TestFixedWindow(t *testing.T) {
	clock := authtest.NewClock()
	clock.Tick = 0 // exact arithmetic on the window below
	m := NewMemory(clock.Now)
	ctx := context.Background()
	for i := range 3 {
		if ok, _, _ := m.Hit(ctx, "k", 3, time.Minute); !ok {
			t.Fatalf("hit %d refused", i+1)
		}
	}
	clock.Advance(20 * time.Second)
	ok, retry, _ := m.Hit(ctx, "k", 3, time.Minute)
	if ok || retry != 40*time.Second {
		t.Fatalf("fourth hit: ok %v retry %v, want refused for 40s", ok, retry)
	}
	if n, _, _ := m.Count(ctx, "k", time.Minute); n != 4 {
		t.Fatalf("count %d", n)
	}
	if ok, _, _ := m.Hit(ctx, "other", 3, time.Minute); !ok {
		t.Fatal("keys are not independent")
	}
	clock.Advance(40 * time.Second)
	if ok, _, _ := m.Hit(ctx, "k", 3, time.Minute); !ok {
		t.Fatal("a new window did not start")
	}
	m.Reset(ctx, "k")
	if n, _, _ := m.Count(ctx, "k", time.Minute); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
}

func TestEndedWindowsAreSwept(t *testing.T) {
	clock := authtest.NewClock()
	m := NewMemory(clock.Now)
	for i := range 1000 {
		m.Hit(context.Background(), string(rune(i)), 1, time.Minute)
	}
	clock.Advance(2 * time.Minute)
	m.Hit(context.Background(), "new", 1, time.Minute)
	if n := len(m.windows); n != 1 {
		t.Fatalf("%d windows kept, want 1", n)
	}
}

func TestHitsPastTheLimitAreCountedAndKeepTheWindowsEnd(t *testing.T) {
	clock := authtest.NewClock()
	clock.Tick = 0
	m := NewMemory(clock.Now)
	ctx := context.Background()
	const window = 15 * time.Minute
	for i := 1; i <= 25; i++ {
		ok, retry, err := m.Hit(ctx, "k", 10, window)
		if err != nil || ok != (i <= 10) {
			t.Fatalf("hit %d: ok %v, err %v; want ok only for the first 10", i, ok, err)
		}
		// The window ends 15 minutes after the first hit, however many come after the limit.
		if want := window - time.Duration(i-1)*time.Second; retry != want {
			t.Fatalf("hit %d: retry %v, want %v", i, retry, want)
		}
		clock.Advance(time.Second)
	}
	if n, retry, _ := m.Count(ctx, "k", window); n != 25 || retry != window-25*time.Second {
		t.Fatalf("count %d retry %v, want 25 and %v", n, retry, window-25*time.Second)
	}
}

func TestHitsAtOnceAllowExactlyTheLimit(t *testing.T) {
	m := NewMemory(authtest.NewClock().Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if ok, _, _ := m.Hit(context.Background(), "k", 10, time.Minute); ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n, _, _ := m.Count(context.Background(), "k", time.Minute); allowed.Load() != 10 || n != 40 {
		t.Fatalf("%d of 40 allowed, %d counted; want 10 and 40", allowed.Load(), n)
	}
}
