package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	e.register("rotate@example.com")
	_, r1 := e.login("rotate@example.com", testPassword)
	res := e.refresh(r1)
	r2, a2 := res.str("refresh"), res.str("access")
	if res.status != 200 || r2 == "" || r2 == r1 {
		t.Fatalf("refresh: %d %s", res.status, res.raw)
	}
	want(t, e.verify(a2), 200, `{}`)
	// simplejwt clients send "refresh".
	if res := e.post("/auth/token/refresh", obj{"refresh": r2}); res.status != 200 {
		t.Fatalf("refresh under simplejwt's field name: %d %s", res.status, res.raw)
	}
	want(t, e.post("/auth/token/refresh/", obj{}), 400, `{"refresh_token":["This field is required."]}`)
}

func TestRefreshRaceGetsOneSuccessor(t *testing.T) {
	e := newEnv(t)
	e.register("race@example.com")
	_, r1 := e.login("race@example.com", testPassword)
	const n = 20
	results := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.refresh(r1)
		})
	}
	close(start)
	wg.Wait()
	successor := results[0].str("refresh")
	for i, r := range results {
		if r.status != 200 || r.str("refresh") != successor || successor == "" {
			t.Fatalf("request %d: %d %s; want 200 with the refresh token %q", i, r.status, r.raw, successor)
		}
		want(t, e.verify(r.str("access")), 200, `{}`)
	}
	// Exactly one live successor: it rotates on, and the chain is intact.
	if r := e.refresh(successor); r.status != 200 {
		t.Fatalf("successor: %d %s", r.status, r.raw)
	}
}

func TestRefreshReuseWindow(t *testing.T) {
	e := newEnv(t)
	e.register("window@example.com")
	_, r1 := e.login("window@example.com", testPassword)
	_, other := e.login("window@example.com", testPassword) // a second sign-in (another device)

	r2 := e.refresh(r1).str("refresh")
	e.clock.Advance(9 * time.Second)
	retry := e.refresh(r1) // the first response was lost
	if retry.status != 200 || retry.str("refresh") != r2 {
		t.Fatalf("retry inside the window: %d %s, want the same successor", retry.status, retry.raw)
	}
	want(t, e.verify(retry.str("access")), 200, `{}`)

	e.clock.Advance(2 * time.Second) // 11 s after first use: the window (from first use) is over
	want(t, e.refresh(r1), 401, invalidToken)
	want(t, e.refresh(r2), 401, invalidToken) // the whole chain is revoked
	if r := e.refresh(other); r.status != 200 {
		t.Fatalf("the other sign-in was touched: %d %s", r.status, r.raw)
	}
	if !containsEvent(e.logs.String(), "refresh_reuse") {
		t.Error("reuse was not logged as a security event")
	}
}

func TestRefreshReplayOfAnOlderTokenRevokesTheChain(t *testing.T) {
	e := newEnv(t)
	e.register("older@example.com")
	_, r1 := e.login("older@example.com", testPassword)
	r2 := e.refresh(r1).str("refresh")
	r3 := e.refresh(r2).str("refresh")
	// Only the newest used token (r2) has a window; r1 is reuse even inside 10 s.
	want(t, e.refresh(r1), 401, invalidToken)
	want(t, e.refresh(r3), 401, invalidToken)
}

func TestRefreshWithoutWindowIsSingleUse(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.ReuseWindow = 0 })
	e.register("single@example.com")
	_, r1 := e.login("single@example.com", testPassword)
	const n = 10
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := e.refresh(r1)
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 1 || codes[401] != n-1 {
		t.Fatalf("statuses %v, want one 200 and %d 401", codes, n-1)
	}
}

// The race behind the concurrent test above, made certain: a request that read the clock just
// before another one used the token up must not take the successor when there is no window.
func TestRefreshWithoutWindowRefusesARequestThatStartedBeforeTheUse(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.ReuseWindow = 0 })
	e.register("racer@example.com")
	_, r1 := e.login("racer@example.com", testPassword)
	// The winner's use, stamped a minute after this request's reading of the clock.
	_, claims, _ := parts(t, r1)
	st, err := e.store.RefreshState(t.Context(), claims["jti"].(string))
	if err != nil {
		t.Fatal(err)
	}
	next := st.Token
	next.JTI = "the-winners-successor"
	if err := e.store.RotateRefresh(t.Context(), st.Token.JTI, next, e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want(t, e.refresh(r1), 401, invalidToken)
}

func TestRefreshTokenExpires(t *testing.T) {
	e := newEnv(t)
	e.register("expire@example.com")
	_, r1 := e.login("expire@example.com", testPassword)
	e.clock.Advance(24*time.Hour + time.Second)
	want(t, e.refresh(r1), 401, invalidToken)
}

func TestSessionMaxAgeEndsRotation(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.SessionMaxAge = 3 * time.Hour })
	e.register("maxage@example.com")
	_, tok := e.login("maxage@example.com", testPassword)
	for range 2 {
		e.clock.Advance(time.Hour)
		res := e.refresh(tok)
		if res.status != 200 {
			t.Fatalf("refresh within the session's age: %d %s", res.status, res.raw)
		}
		tok = res.str("refresh")
	}
	e.clock.Advance(time.Hour + time.Second)
	want(t, e.refresh(tok), 401, invalidToken)
}

func TestLogoutRevokesOnlyThatSignIn(t *testing.T) {
	e := newEnv(t)
	e.register("logout@example.com")
	_, s1 := e.login("logout@example.com", testPassword)
	_, s2 := e.login("logout@example.com", testPassword)
	s1next := e.refresh(s1).str("refresh")

	want(t, e.post("/auth/logout/", obj{"refresh_token": s1}), 200, `{}`) // a used token of a live chain
	want(t, e.refresh(s1next), 401, invalidToken)
	want(t, e.refresh(s1), 401, invalidToken) // the window never revives a revoked chain
	want(t, e.post("/auth/logout", obj{"refresh": s1next}), 401, invalidToken)
	if r := e.refresh(s2); r.status != 200 {
		t.Fatalf("other sign-in: %d %s", r.status, r.raw)
	}
	want(t, e.post("/auth/logout/", obj{"refresh_token": "nonsense"}), 401, invalidToken)
}

func TestInactiveUserCannotRefreshOrVerify(t *testing.T) {
	e := newEnv(t)
	e.register("inactive@example.com")
	access, refresh := e.login("inactive@example.com", testPassword)
	u, err := e.store.UserByEmailKey(context.Background(), "inactive@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	want(t, e.refresh(refresh), 401, invalidToken)
	want(t, e.verify(access), 401, invalidToken)
	want(t, e.post("/auth/token/", obj{"email": "inactive@example.com", "password": testPassword}), 401, noAccount)
}

// A refresh token issued before the upgrade (EdDSA under the signing key, no sid, a fractional
// iat) keeps refreshing until it expires, so an upgrade signs nobody out; its successor is an
// HS256 token of the new kind. An access token of that time, which names no sign-in, is refused.
func TestRefreshTokensFromBeforeTheUpgradeStillRefresh(t *testing.T) {
	e := newEnv(t)
	e.register("upgrade@example.com")
	_, current := e.login("upgrade@example.com", testPassword)
	_, p, _ := parts(t, current)
	keys, err := e.store.SigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		t.Fatal(keys, err)
	}
	signer := ed25519.NewKeyFromSeed(keys[0].Material) // stored as is: the test sets no master key
	// The pre-upgrade token for the same stored record: only its signature and claims differ.
	now := e.clock.Now()
	oldClaims := jwt.MapClaims{"token_type": "refresh", "jti": p["jti"], "user_id": p["user_id"], "sub": p["sub"], "iss": "authd",
		"iat": json.Number(fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)), "exp": p["exp"]}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, oldClaims)
	tok.Header["kid"] = keys[0].ID
	legacy, err := tok.SignedString(signer)
	if err != nil {
		t.Fatal(err)
	}
	res := e.refresh(legacy)
	if res.status != 200 {
		t.Fatalf("a refresh token from before the upgrade: %d %s", res.status, res.raw)
	}
	if h, _, _ := parts(t, res.str("refresh")); h["alg"] != "HS256" {
		t.Fatalf("its successor is %v, want HS256", h)
	}
	want(t, e.verify(res.str("access")), 200, `{}`)
	if next := e.refresh(res.str("refresh")); next.status != 200 {
		t.Fatalf("the successor does not refresh: %d %s", next.status, next.raw)
	}

	oldAccess := jwt.MapClaims{"token_type": "access", "jti": "a-before-the-upgrade", "user_id": p["user_id"], "sub": p["sub"],
		"iss": "authd", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	tok = jwt.NewWithClaims(jwt.SigningMethodEdDSA, oldAccess)
	tok.Header["kid"] = keys[0].ID
	access, _ := tok.SignedString(signer)
	want(t, e.verify(access), 401, invalidToken)
}
