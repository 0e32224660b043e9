package auth

import (
	"context"
	"testing"
	"time"
)

func BenchmarkMintAccessToken(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	m, k := testMaker(&testing.T{}, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.mint(TypeAccess, "jti", "user", k.ID, now, now.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAccessToken(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	m, k := testMaker(&testing.T{}, now)
	tok, _ := m.mint(TypeAccess, newID(), "0b9f6bb4-5a2b-4f3c-9d8e-1f2a3b4c5d6e", k.ID, now, now.Add(time.Minute))
	b.Run("first check", func(b *testing.B) { // signature, claims: what the cache saves
		b.ReportAllocs()
		for b.Loop() {
			var c claims
			if _, err := m.parser.ParseWithClaims(tok, &c, m.keyFor); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("already checked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.parse(tok, TypeAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHashPassword(b *testing.B) {
	h := NewHasher(DefaultHashParams, 1, time.Minute)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
