package storetest

import (
	"fmt"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// Bench measures the store operations on authd's hot paths: the user read of every verify, and
// the state read and rotation of every refresh. open returns a new, empty store.
func Bench(b *testing.B, open func(b *testing.B) Store) {
	s := open(b)
	const users = 1000
	for i := range users {
		u := user(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@x.io", i), "")
		if err := s.CreateUser(ctx, u, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	first := auth.RefreshToken{JTI: "b-0", SessionID: "bs", UserID: "u1", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, auth.Session{ID: "bs", UserID: "u1", CreatedAt: t0}, first); err != nil {
		b.Fatal(err)
	}

	b.Run("UserByID", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.UserByID(ctx, fmt.Sprintf("u%d", i%users)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("RefreshState", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.RefreshState(ctx, "b-0"); err != nil {
				b.Fatal(err)
			}
		}
	})
	prev, n := first, 0 // the chain goes on across -count runs: a used token cannot rotate again
	b.Run("RotateRefresh", func(b *testing.B) {
		for b.Loop() {
			n++
			next := prev
			next.JTI = fmt.Sprintf("b-%d", n)
			if err := s.RotateRefresh(ctx, prev.JTI, next, t0); err != nil {
				b.Fatal(err)
			}
			prev = next
		}
	})
}
