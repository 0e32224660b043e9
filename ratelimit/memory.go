// Package ratelimit keeps authd's rate-limit counters: fixed windows per key, in memory for a
// single instance.
package ratelimit

import (
	"context"
	"sync"
	"time"

	auth "github.com/authd/authd"
)

// Memory counts events per key in fixed windows, in this process's memory. Expired windows are
// swept as new keys arrive, so memory stays bounded by the keys active in one window.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	windows   map[string]window
	nextSweep time.Time
}

type window struct {
	count int
	ends  time.Time
}

var _ auth.Limiter = (*Memory)(nil)

// NewMemory returns an empty in-memory limiter reading time from now (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, windows: map[string]window{}}
}

// current returns key's window at now, a fresh one if it has ended. The caller holds mu.
func (m *Memory) current(key string, length time.Duration, now time.Time) window {
	w, ok := m.windows[key]
	if !ok || !now.Before(w.ends) {
		w = window{ends: now.Add(length)}
	}
	return w
}

// Hit counts one event for key and reports whether it is within limit for its window.
func (m *Memory) Hit(_ context.Context, key string, limit int, length time.Duration) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	w := m.current(key, length, now)
	w.count++
	m.windows[key] = w
	return w.count <= limit, w.ends.Sub(now), nil
}

// Count returns the events counted for key in its current window and when the window ends.
func (m *Memory) Count(_ context.Context, key string, length time.Duration) (int, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.current(key, length, now)
	return w.count, w.ends.Sub(now), nil
}

// Unhit takes back one event of key's open window.
func (m *Memory) Unhit(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.windows[key]; ok && w.count > 0 && m.now().Before(w.ends) {
		w.count--
		m.windows[key] = w
	}
	return nil
}

// Reset forgets key.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.windows, key)
	m.mu.Unlock()
	return nil
}

// sweep drops ended windows, at most once a minute. The caller holds mu.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(time.Minute)
	for k, w := range m.windows {
		if !now.Before(w.ends) {
			delete(m.windows, k)
		}
	}
}
