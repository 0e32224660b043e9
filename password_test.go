package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
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
