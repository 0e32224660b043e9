package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	auth "github.com/authd/authd"
)

// Bench measures every store operation, each named after its method. open returns a new, empty
// store. Ids come from counters that outlive a run, so -count > 1 goes on where the last run
// stopped (a used token cannot rotate again; an id cannot be inserted twice). Work an operation
// needs first (a session to revoke, an email to claim) is done with the timer stopped.
func Bench(b *testing.B, open func(b *testing.B) Store) {
	s := open(b)
	const users = 1000
	for i := range users {
		u := user(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@x.io", i), fmt.Sprintf("+44207%07d", i))
		if err := s.CreateUser(ctx, u, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	far := t0.Add(365 * 24 * time.Hour) // setup outlives the purge's clock
	first := auth.RefreshToken{JTI: "b-0", SessionID: "bs", UserID: "u1", KeyID: "k", IssuedAt: t0, ExpiresAt: far}
	must(b, s.CreateSession(ctx, auth.Session{ID: "bs", UserID: "u1", CreatedAt: t0}, first))
	must(b, s.CreateSocialUser(ctx, user("g", "g@x.io", ""), link("sub-g")))
	must(b, s.AddCode(ctx, code("claim", "claim@x.io", "", t0), nil, 0, t0))
	must(b, s.AddSigningKey(ctx, storedKey("k0", 1)))
	if _, err := s.Secret(ctx, "bench", []byte("secret")); err != nil {
		b.Fatal(err)
	}
	mail := &auth.Outgoing{Payload: make([]byte, 300), CreatedAt: t0}
	key := storedKey("k", 2)
	hashes, hash := [2]string{"$argon2id$x", "$argon2id$y"}, 0 // u2's hash is hashes[hash]
	prev, n := first, 0
	next := func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }

	// queueAndClaim leaves one email claimed, as the sender holds it before it reports back.
	queueAndClaim := func(b *testing.B) int64 {
		must(b, s.AddCode(ctx, code(next("m"), "u7@x.io", "u7", t0), mail, 0, t0))
		items, err := s.ClaimOutbox(ctx, t0, t0.Add(time.Minute), 1)
		if err != nil || len(items) != 1 {
			b.Fatalf("claimed %d, %v", len(items), err)
		}
		return items[0].ID
	}
	// untimed runs prepare outside the timer.
	untimed := func(b *testing.B, prepare func()) {
		b.StopTimer()
		prepare()
		b.StartTimer()
	}

	ops := []struct {
		name string
		op   func(b *testing.B, i int) error
	}{
		{"Ping", func(b *testing.B, i int) error { return s.Ping(ctx) }},
		{"CreateUser", func(b *testing.B, i int) error {
			id := next("new")
			return s.CreateUser(ctx, user(id, id+"@x.io", ""), nil, nil)
		}},
		{"UserByEmailKey", func(b *testing.B, i int) error {
			_, err := s.UserByEmailKey(ctx, fmt.Sprintf("u%d@x.io", i%users))
			return err
		}},
		{"UserByID", func(b *testing.B, i int) error {
			_, err := s.UserByID(ctx, fmt.Sprintf("u%d", i%users))
			return err
		}},
		{"SessionStanding", func(b *testing.B, i int) error {
			_, err := s.SessionStanding(ctx, "bs")
			return err
		}},
		{"PhoneTaken", func(b *testing.B, i int) error {
			taken, err := s.PhoneTaken(ctx, fmt.Sprintf("+44207%07d", i%users))
			if err == nil && !taken {
				b.Fatal("a user's phone is not taken")
			}
			return err
		}},
		{"ReplacePasswordHash", func(b *testing.B, i int) error {
			hash = 1 - hash
			return s.ReplacePasswordHash(ctx, "u2", hashes[1-hash], hashes[hash])
		}},
		{"CreateSocialUser", func(b *testing.B, i int) error {
			id := next("gnew")
			return s.CreateSocialUser(ctx, user(id, id+"@x.io", ""), link("sub-"+id))
		}},
		{"SetUserActive", func(b *testing.B, i int) error {
			return s.SetUserActive(ctx, "u9", i%2 == 0)
		}},
		{"SocialLinks", func(b *testing.B, i int) error {
			_, err := s.SocialLinks(ctx, "g")
			return err
		}},
		{"UserBySocial", func(b *testing.B, i int) error {
			_, err := s.UserBySocial(ctx, "google-oauth2", "sub-g")
			return err
		}},
		{"LinkSocial", func(b *testing.B, i int) error {
			return s.LinkSocial(ctx, link(next("sub-link")), auth.AccountChange{UserID: fmt.Sprintf("u%d", i%users), At: t0, VerifyEmail: true})
		}},
		{"CreateSession", func(b *testing.B, i int) error {
			id := next("s")
			return s.CreateSession(ctx, auth.Session{ID: id, UserID: "u3", CreatedAt: t0},
				auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: "u3", KeyID: "k", IssuedAt: t0, ExpiresAt: far})
		}},
		{"RefreshState", func(b *testing.B, i int) error {
			_, err := s.RefreshState(ctx, "b-0")
			return err
		}},
		{"RotateRefresh", func(b *testing.B, i int) error {
			successor := prev
			successor.JTI = next("b-")
			err := s.RotateRefresh(ctx, prev.JTI, successor, t0)
			prev = successor
			return err
		}},
		{"RevokeSession", func(b *testing.B, i int) error {
			var id string
			untimed(b, func() {
				id = next("r")
				must(b, s.CreateSession(ctx, auth.Session{ID: id, UserID: "u4", CreatedAt: t0},
					auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: "u4", KeyID: "k", IssuedAt: t0, ExpiresAt: far}))
			})
			return s.RevokeSession(ctx, id, t0)
		}},
		{"AddCode", func(b *testing.B, i int) error { // with its email, and the hourly count
			return s.AddCode(ctx, code(next("c"), fmt.Sprintf("u%d@x.io", i%users), "", t0), mail, math.MaxInt32, t0.Add(-time.Hour))
		}},
		{"ClaimCode", func(b *testing.B, i int) error {
			_, err := s.ClaimCode(ctx, resetOf("claim@x.io"), t0, math.MaxInt32)
			return err
		}},
		{"RefundCodeAttempt", func(b *testing.B, i int) error {
			untimed(b, func() {
				_, err := s.ClaimCode(ctx, resetOf("claim@x.io"), t0, math.MaxInt32)
				must(b, err)
			})
			return s.RefundCodeAttempt(ctx, "claim")
		}},
		{"ResetPassword", func(b *testing.B, i int) error { // with its email and the user's sessions revoked
			var id string
			untimed(b, func() {
				id = next("p")
				must(b, s.AddCode(ctx, code(id, "u6@x.io", "u6", t0), nil, 0, t0))
			})
			return s.UseCode(ctx, id, auth.AccountChange{UserID: "u6", At: t0, SetPassword: true, PasswordHash: hashes[0],
				VerifyEmail: true, DropUnprovenSocial: true, RevokeSessions: true, Mail: mail})
		}},
		{"ClaimOutbox", func(b *testing.B, i int) error {
			untimed(b, func() { must(b, s.AddCode(ctx, code(next("m"), "u7@x.io", "u7", t0), mail, 0, t0)) })
			items, err := s.ClaimOutbox(ctx, t0, t0.Add(time.Minute), 1)
			if err != nil {
				return err
			}
			if len(items) != 1 {
				b.Fatalf("claimed %d emails, want 1", len(items))
			}
			untimed(b, func() { must(b, s.MarkSent(ctx, items[0].ID, t0)) })
			return nil
		}},
		{"MarkSent", func(b *testing.B, i int) error {
			var id int64
			untimed(b, func() { id = queueAndClaim(b) })
			return s.MarkSent(ctx, id, t0)
		}},
		{"MarkRetry", func(b *testing.B, i int) error {
			var id int64
			untimed(b, func() { id = queueAndClaim(b) })
			return s.MarkRetry(ctx, id, far, "421 try later")
		}},
		{"MarkDead", func(b *testing.B, i int) error {
			var id int64
			untimed(b, func() { id = queueAndClaim(b) })
			return s.MarkDead(ctx, id, t0, "550 no such user")
		}},
		{"SigningKeys", func(b *testing.B, i int) error {
			_, err := s.SigningKeys(ctx)
			return err
		}},
		{"AddSigningKey", func(b *testing.B, i int) error { // after SigningKeys, which would read them all
			key.ID = next("k")
			key.Generation = n
			return s.AddSigningKey(ctx, key)
		}},
		{"Secret", func(b *testing.B, i int) error {
			_, err := s.Secret(ctx, "bench", []byte("other"))
			return err
		}},
		{"AddHit", func(b *testing.B, i int) error { // a failed sign-in, over 1,000 emails
			_, _, err := s.AddHit(ctx, fmt.Sprintf("login-failures:u%d@x.io", i%users), 15*time.Minute, t0)
			return err
		}},
		{"Hits", func(b *testing.B, i int) error {
			_, _, err := s.Hits(ctx, fmt.Sprintf("login-failures:u%d@x.io", i%users), t0)
			return err
		}},
		{"ClearHits", func(b *testing.B, i int) error { // a sign-in that succeeded after a failure
			key := fmt.Sprintf("login-failures:u%d@x.io", i%users)
			untimed(b, func() {
				_, _, err := s.AddHit(ctx, key, 15*time.Minute, t0)
				must(b, err)
			})
			return s.ClearHits(ctx, key)
		}},
		{"Purge", func(b *testing.B, i int) error { // one full batch: 100 expired sign-ins, each with its token
			const batch = 100
			purgeAt := t0.Add(time.Hour)
			untimed(b, func() {
				for i == 0 { // first, what the benchmarks before left (revoked sign-ins): not this batch
					deleted, err := s.Purge(ctx, purgeAt, 10_000, 0)
					must(b, err)
					if deleted == 0 {
						break
					}
				}
				for range batch {
					id := next("x")
					must(b, s.CreateSession(ctx, auth.Session{ID: id, UserID: "u8", CreatedAt: t0},
						auth.RefreshToken{JTI: id + "-1", SessionID: id, UserID: "u8", KeyID: "k", IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
				}
			})
			deleted, err := s.Purge(ctx, purgeAt, batch, 0)
			if err == nil && deleted < batch {
				b.Fatalf("purged %d rows, want the %d expired sign-ins", deleted, batch)
			}
			return err
		}},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := o.op(b, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
