package ratelimit

import (
	"context"
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
