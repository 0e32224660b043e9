package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuickRatioMatchesDifflib(t *testing.T) {
	// Values from Python: difflib.SequenceMatcher(a=a, b=b).quick_ratio()
	tests := []struct {
		a, b string
		want float64
	}{
		{"penguin123", "penguin", 14.0 / 17},
		{"abcd", "bcde", 0.75},
		{"aaaa", "a", 0.4},
		{"", "", 1},
		{"alexandria1", "alexandria", 20.0 / 21},
	}
	for _, tt := range tests {
		if got := quickRatio([]rune(tt.a), []rune(tt.b)); got-tt.want > 1e-9 || tt.want-got > 1e-9 {
			t.Errorf("quickRatio(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestPasswordProblemsInDjangoOrder(t *testing.T) {
	got := passwordProblems("1234", 8, "1234", "x", "a@b.co")
	want := []string{MsgTooSimilarFirst, "This password is too short. It must contain at least 8 characters.", MsgTooCommon, MsgEntirelyNumeric}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := passwordProblems("aaaaaaaaaaaaaaaa", 8, "Jo", "Li", "jo@li.io"); len(got) != 0 {
		t.Errorf("no composition rules: %q", got)
	}
	if got := passwordProblems("a long unusual phrase", 15, "", "", ""); len(got) != 0 {
		t.Errorf("hardened minimum of 15: %q", got)
	}
}

func TestCommonPasswordListIsDjangos(t *testing.T) {
	if n := len(commonPasswords); n < 19000 {
		t.Fatalf("%d common passwords, want Django's ~20,000", n)
	}
	for _, p := range []string{"password", "password123", "qwertyuiop", "letmein"} {
		if _, ok := commonPasswords[p]; !ok {
			t.Errorf("%q is not listed", p)
		}
	}
}

func TestHashIsArgon2idPHCWithPerUserSalt(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1, time.Second)
	a, err := h.Hash(context.Background(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Fatal("two hashes of one password are equal: no per-hash salt")
	}
	p, salt, key, err := decodePHC(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") || p.Memory < 19456 || p.Time < 2 || len(salt) < 16 || len(key) != 32 {
		t.Fatalf("hash %q: params %+v salt %d bytes", a, p, len(salt))
	}
	ok, rehash, err := h.Check(context.Background(), a, "same password")
	if !ok || rehash || err != nil {
		t.Fatalf("Check = %v, %v, %v", ok, rehash, err)
	}
	if ok, _, _ := h.Check(context.Background(), a, "Same password"); ok {
		t.Fatal("a different password matched")
	}
}

func TestWeakHashIsUpgraded(t *testing.T) {
	weak := NewHasher(HashParams{Memory: 7168, Time: 5, Threads: 1}, 1, time.Second)
	old, _ := weak.Hash(context.Background(), "upgrade me please")
	h := NewHasher(DefaultHashParams, 1, time.Second)
	ok, rehash, _ := h.Check(context.Background(), old, "upgrade me please")
	if !ok || !rehash {
		t.Fatalf("Check of a weaker hash = %v, rehash %v; want match and rehash", ok, rehash)
	}
}

func TestHostileHashParametersAreRefusedWithoutAllocating(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1, time.Second)
	salt := strings.Repeat("A", 22)
	hostile := "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + strings.Repeat("B", 43)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ok, _, err := h.Check(context.Background(), hostile, "anything")
	runtime.ReadMemStats(&after)
	if ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("allocated %d MiB for a hostile hash", grew>>20)
	}
}

func TestHasherIsBusyWhenEverySlotIsTaken(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1, 20*time.Millisecond)
	h.slots <- struct{}{} // someone else is hashing
	start := time.Now()
	if _, err := h.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash = %v, want ErrBusy", err)
	}
	if _, _, err := h.Check(context.Background(), "", "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Check = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("shedding took %v", d)
	}
}

func TestUnusableHashCostsAHash(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1, time.Second)
	for _, stored := range []string{"", "!", "$argon2id$broken"} {
		if ok, _, err := h.Check(context.Background(), stored, ""); ok || err != nil {
			t.Fatalf("Check(%q) = %v, %v", stored, ok, err)
		}
	}
}

// tinyHash makes a hash cheap, for tests that count callers rather than time hashes.
var tinyHash = HashParams{Memory: 64, Time: 1, Threads: 1}

func TestHasherQueueIsBoundedByWhatTheWaitCanServe(t *testing.T) {
	// One slot, a hash estimated at 15 s and a 60 s wait: 4 callers may wait, no more. The wait is
	// long so that a caller which waited instead of being refused could not have returned yet.
	h := NewHasher(tinyHash, 1, time.Minute)
	h.hashTime.Store(int64(15 * time.Second))
	h.slots <- struct{}{} // someone else is hashing
	const callers, queue = 50, 4
	results := make(chan error, callers)
	for range callers {
		go func() {
			_, _, err := h.Check(context.Background(), "", "x")
			results <- err
		}()
	}
	deadline := time.After(10 * time.Second) // far below the wait: only refusals can arrive
	for range callers - queue {
		select {
		case err := <-results:
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("a caller past the queue got %v, want ErrBusy", err)
			}
		case <-deadline:
			t.Fatal("callers past the queue were not refused at once")
		}
	}
	if n := h.waiting.Load(); n != queue {
		t.Fatalf("%d callers waiting, want %d", n, queue)
	}
	select {
	case err := <-results:
		t.Fatalf("a waiting caller returned %v while the slot was still taken", err)
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // were it let into the full queue, it would answer context.Canceled at once
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a caller arriving at a full queue: %v, want ErrBusy", err)
	}

	h.release(time.Now()) // the other hash ends: the queue is served, one caller at a time
	for range queue {
		if err := <-results; err != nil {
			t.Fatalf("a waiting caller got %v, want its hash", err)
		}
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("%d callers still counted as waiting", n)
	}
}

func TestHasherWaitsAreCountedOutWhenTheyEnd(t *testing.T) {
	h := NewHasher(tinyHash, 1, time.Minute)
	h.hashTime.Store(int64(time.Second))
	h.slots <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := h.Hash(ctx, "x"); done <- err }()
	for h.waiting.Load() != 1 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash = %v, want context.Canceled", err)
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("%d waiting after the only waiter gave up", n)
	}
	// With no time to serve anyone, nobody waits: the 2 s timer is only a backstop.
	h = NewHasher(tinyHash, 1, 0)
	h.slots <- struct{}{}
	if _, err := h.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no wait = %v, want ErrBusy", err)
	}
}

func TestHasherEstimatesTheHashTime(t *testing.T) {
	cheap, dear := NewHasher(tinyHash, 1, time.Second), NewHasher(DefaultHashParams, 1, time.Second)
	if c, d := cheap.hashTime.Load(), dear.hashTime.Load(); c <= 0 || d <= c {
		t.Fatalf("seeded estimates: %v for a 64 KiB hash, %v for 19 MiB", time.Duration(c), time.Duration(d))
	}
	// The estimate moves toward what hashes take, by an eighth of the difference each time.
	cheap.hashTime.Store(int64(time.Hour))
	if _, err := cheap.Hash(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(cheap.hashTime.Load()); got >= time.Hour || got < time.Hour*7/8 {
		t.Fatalf("estimate after one quick hash from an hour: %v, want just under 7/8 of an hour", got)
	}
}

func TestHasherFloodIsMostlyRefusedAtOnce(t *testing.T) {
	// Real hashes, timed: with 1 slot and a wait of a few hashes, a flood of 64 callers is served
	// a handful at a time and the rest refused.
	h := NewHasher(DefaultHashParams, 1, 100*time.Millisecond)
	limit := int(h.queueLimit())
	const callers = 64
	var served, refused atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, _, err := h.Check(context.Background(), "", "x")
			switch {
			case err == nil:
				served.Add(1)
			case errors.Is(err, ErrBusy):
				refused.Add(1)
			default:
				t.Errorf("Check = %v", err)
			}
		})
	}
	wg.Wait()
	t.Logf("queue limit %d: %d served, %d refused", limit, served.Load(), refused.Load())
	if served.Load() < 1 || served.Load()+refused.Load() != callers {
		t.Fatalf("%d served, %d refused of %d", served.Load(), refused.Load(), callers)
	}
	if bound := 2 * (limit + 1); served.Load() > int64(bound) {
		t.Fatalf("%d served with a queue of %d: the queue is not bounded", served.Load(), limit)
	}
}
