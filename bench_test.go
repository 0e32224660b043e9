package auth

import (
	"context"
	"testing"
	"time"
)

func BenchmarkMintAccessToken(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	m, _ := testMaker(b, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.mint(TypeAccess, access(m, "jti"), now, now.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAccessToken(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	m, _ := testMaker(b, now)
	tok, _ := m.mint(TypeAccess, access(m, newID()), now, now.Add(time.Minute))
	b.Run("first check", func(b *testing.B) { // signature, claims: what the cache saves
		b.ReportAllocs()
		for b.Loop() {
			var c claims
			if _, err := m.accessParser.ParseWithClaims(tok, &c, m.accessKey); err != nil {
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
