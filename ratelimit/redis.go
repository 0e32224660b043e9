package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	auth "github.com/authd/authd"
)

// hitScript counts one event in a fixed window: the first event of a window sets its expiry.
var hitScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`)

var countScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
return {n, redis.call('PTTL', KEYS[1])}`)

// Redis keeps the counters in Redis, so every instance shares them. While Redis cannot be
// reached it counts in its fallback instead (this instance's memory unless WithFallback says
// otherwise; never failing open), logs that once, and says so through Ping; it goes back to
// Redis by itself.
type Redis struct {
	client   *redis.Client
	fallback auth.Limiter
	log      *slog.Logger
	health   *health // shared by the limiters WithFallback makes from one connection
}

// health is whether Redis answered lately.
type health struct {
	down    atomic.Bool
	retryAt atomic.Int64 // unix nanoseconds: while down, Redis is not asked again before then
}

// retryDown is how long a Redis found down is left alone before it is tried again, so an outage
// costs requests nothing.
const retryDown = 2 * time.Second

// redisLog passes go-redis's own complaints (which it prints to stderr by default) to the log.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}

var _ auth.Limiter = (*Redis)(nil)

// NewRedis connects lazily to the Redis at url (redis://host:port/db). Each command waits at
// most a fraction of a second, so a dead Redis cannot stall requests.
func NewRedis(url string, log *slog.Logger) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opt.MaxRetries, opt.DialerRetries = 0, 1
	redis.SetLogger(redisLog{log})
	return &Redis{client: redis.NewClient(opt), fallback: NewMemory(nil), log: log, health: &health{}}, nil
}

// WithFallback returns a limiter that counts in the same Redis, and in fallback while Redis is
// down: the database, for instance, so that a count every instance must share stays shared
// through an outage.
func (r *Redis) WithFallback(fallback auth.Limiter) *Redis {
	return &Redis{client: r.client, fallback: fallback, log: r.log, health: r.health}
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Ping reports whether Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	err := r.client.Ping(ctx).Err()
	r.note(err)
	return err
}

// note records whether Redis answered, logging each change.
func (r *Redis) note(err error) {
	if err != nil {
		r.health.retryAt.Store(time.Now().Add(retryDown).UnixNano())
	}
	if err != nil && r.health.down.CompareAndSwap(false, true) {
		r.log.Error("Redis unavailable: rate limits fall back to this instance's memory (failed sign-ins to the database)", "event", "redis_down", "err", err)
	}
	if err == nil && r.health.down.CompareAndSwap(true, false) {
		r.log.Info("Redis available again: rate limits are shared", "event", "redis_up")
	}
}

// redisKey names key's counter. Keys hold emails and addresses, so Redis sees only a digest.
func redisKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "authd:limit:" + hex.EncodeToString(sum[:16])
}

func (r *Redis) run(ctx context.Context, s *redis.Script, key string, args ...any) (int, time.Duration, error) {
	if r.health.down.Load() && time.Now().UnixNano() < r.health.retryAt.Load() {
		return 0, 0, errors.New("redis: down")
	}
	v, err := s.Run(ctx, r.client, []string{redisKey(key)}, args...).Int64Slice()
	r.note(err)
	if err != nil || len(v) != 2 {
		return 0, 0, fmt.Errorf("redis: %v", err)
	}
	return int(v[0]), max(0, time.Duration(v[1])*time.Millisecond), nil
}

// Hit counts one event for key in Redis, or in memory while Redis is down.
func (r *Redis) Hit(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	n, ttl, err := r.run(ctx, hitScript, key, window.Milliseconds())
	if err != nil {
		return r.fallback.Hit(ctx, key, limit, window)
	}
	return n <= limit, ttl, nil
}

// Count returns the events counted for key in its window.
func (r *Redis) Count(ctx context.Context, key string, window time.Duration) (int, time.Duration, error) {
	n, ttl, err := r.run(ctx, countScript, key)
	if err != nil {
		return r.fallback.Count(ctx, key, window)
	}
	return n, ttl, nil
}

// unhitScript takes back one event, never below zero, leaving the window's expiry as it is.
var unhitScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then n = redis.call('DECR', KEYS[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Unhit takes back one event of key, in Redis, or in memory while Redis is down.
func (r *Redis) Unhit(ctx context.Context, key string) error {
	if _, _, err := r.run(ctx, unhitScript, key); err != nil {
		return r.fallback.Unhit(ctx, key)
	}
	return nil
}

// Reset forgets key, in Redis and in memory.
func (r *Redis) Reset(ctx context.Context, key string) error {
	r.fallback.Reset(ctx, key)
	err := r.client.Del(ctx, redisKey(key)).Err()
	r.note(err)
	return nil
}
