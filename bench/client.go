package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"runtime"
	"sync"
	"time"
)

type client struct {
	base string
	http *http.Client
	run  string // makes this run's emails unique
}

func newClient(base string, conns int) *client {
	return &client{base: base, run: rand.Text()[:8], http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute},
	}}
}

func runtimeCores() int { return runtime.NumCPU() }

// post sends a JSON body and returns the status and the decoded answer (nil if not an object).
func (c *client) post(ctx context.Context, path string, body []byte) (int, map[string]string) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]string
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func jsonBody(v map[string]string) []byte { b, _ := json.Marshal(v); return b }

const password = "load test password 1"

// user is a prepared account.
type user struct{ email, phone string }

func (c *client) newUser(i int) user {
	n, _ := rand.Int(rand.Reader, big.NewInt(10_000_000))
	return user{email: fmt.Sprintf("bench-%s-%d@example.com", c.run, i), phone: fmt.Sprintf("+44207%07d", n.Int64())}
}

// register makes an account, trying other phone numbers if one is taken.
func (c *client) register(ctx context.Context, i int) (user, int) {
	for range 5 {
		u := c.newUser(i)
		status, body := c.post(ctx, "/auth/register/", jsonBody(map[string]string{"first_name": "Load", "last_name": "Test",
			"email": u.email, "phone_no": u.phone, "password": password}))
		if status != 400 || body == nil {
			return u, status
		}
	}
	return user{}, 400
}

func (c *client) login(ctx context.Context, u user) (int, map[string]string) {
	return c.post(ctx, "/auth/token/", jsonBody(map[string]string{"email": u.email, "password": password}))
}

// session is a worker's own sign-in: its current access token and the head of its rotation chain.
type session struct {
	access, refresh string
	issued          time.Time
}

// prepare makes the users and, for the workloads that need them, a session per worker, and
// returns each worker's operation.
func (c *client) prepare(ctx context.Context, cfg Config) ([]op, error) {
	users := make([]user, cfg.Users)
	errs := make(chan error, cfg.Users)
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Concurrency)
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u, status := c.register(ctx, i)
			if status != 201 {
				errs <- fmt.Errorf("preparing users: register answered %d (is the server running at %s, with AUTH_IP_RATE_LIMIT=0?)", status, c.base)
				return
			}
			users[i] = u
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	ops := make([]op, cfg.Concurrency)
	for w := range ops {
		u := users[w%len(users)]
		var s session
		if cfg.Workload != "register" && cfg.Workload != "login" {
			status, pair := c.login(ctx, u)
			if status != 200 {
				return nil, fmt.Errorf("preparing sessions: token answered %d", status)
			}
			s = session{access: pair["access"], refresh: pair["refresh"], issued: time.Now()}
		}
		ops[w] = c.workload(cfg.Workload, w, u, &s)
	}
	return ops, nil
}

func (c *client) workload(name string, worker int, u user, s *session) op {
	refresh := func(ctx context.Context) (int, bool) {
		status, pair := c.post(ctx, "/auth/token/refresh/", jsonBody(map[string]string{"refresh_token": s.refresh}))
		if status == 200 {
			s.access, s.refresh, s.issued = pair["access"], pair["refresh"], time.Now()
		}
		return status, status == 200
	}
	verify := func(ctx context.Context) (int, bool) {
		if time.Since(s.issued) > 4*time.Minute { // access tokens live 5 minutes
			if status, ok := refresh(ctx); !ok {
				return status, false
			}
		}
		status, _ := c.post(ctx, "/auth/token/verify/", jsonBody(map[string]string{"access_token": s.access}))
		return status, status == 200
	}
	login := func(ctx context.Context) (int, bool) {
		status, _ := c.login(ctx, u)
		return status, status == 200
	}
	switch name {
	case "register":
		n := 0
		return func(ctx context.Context) (int, bool) {
			n++
			_, status := c.register(ctx, 1_000_000*(worker+1)+n)
			return status, status == 201
		}
	case "login":
		return login
	case "refresh":
		return refresh
	case "verify":
		return verify
	}
	// mixed: 1 login : 10 refreshes : 100 verifies
	n := 0
	return func(ctx context.Context) (int, bool) {
		n++
		switch {
		case n%111 == 0:
			return login(ctx)
		case n%111 <= 10:
			return refresh(ctx)
		}
		return verify(ctx)
	}
}
