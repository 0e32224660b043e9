package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/google"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/mail"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/sqlstore"
)

// env is a running authd, wired as cmd/authd wires it, on a SQLite file, a real SMTP server and
// a clock the test moves.
type env struct {
	t       testing.TB
	url     string
	clock   *authtest.Clock
	smtp    *authtest.SMTPServer
	store   *sqlstore.Store
	svc     *auth.Service
	sender  *mail.Sender
	logs    *authtest.Buffer
	dbPath  string
	cfg     auth.Config
	opts    httpapi.Options
	hasher  *auth.Hasher
	limiter auth.Limiter // nil: a new in-memory one at each start
	pgURL   string
	handler http.Handler
	google  *authtest.FakeGoogle
	gcfg    google.Config
	// admin: requests go to the admin listener, which openapi.json (the public API) does not
	// describe.
	admin bool
	// mailByHand: no sender runs in the background; the test sends what is due with
	// e.sender.Drain, so it knows when every attempt is over without waiting on the outbox.
	mailByHand bool
}

// withMailByHand leaves the outbox to the test's calls of e.sender.Drain.
func withMailByHand(e *env) { e.mailByHand = true }

// withGoogle turns Google sign-in on, against a fake Google.
func withGoogle(e *env) {
	e.google = authtest.StartGoogle(e.t, "authd-test.apps.googleusercontent.com", e.clock.Now)
	e.gcfg = google.Config{ClientID: e.google.ClientID, ClientSecret: e.google.Secret, RedirectURL: "postmessage",
		TokenURL: e.google.URL + "/token", UserinfoURL: e.google.URL + "/userinfo", JWKSURL: e.google.URL + "/jwks",
		Issuer: e.google.URL, Timeout: 2 * time.Second, Now: e.clock.Now}
}

// withRedis keeps the rate limits in the Redis at AUTH_TEST_REDIS_URL (skipping the test when it
// is unset). Redis keeps counts between runs and reads real time, not the test's clock.
func withRedis(e *env) {
	r, err := ratelimit.NewRedis(authtest.RedisURL(e.t), slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	e.limiter = r
}

// setup adjusts an env's configuration before it starts.
type setup func(e *env)

func newEnv(t testing.TB, setups ...setup) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(), smtp: authtest.StartSMTP(t), logs: &authtest.Buffer{},
		dbPath: filepath.Join(t.TempDir(), "authd.db"), cfg: auth.DefaultConfig()}
	e.cfg.LoginFailureLimit, e.cfg.CodesPerHour, e.cfg.IPRateLimit = 0, 0, 0 // tests of the limits turn them on
	// Registration mails no verification code, so that a test's emails are those it asks for;
	// the tests of verification turn it on.
	e.cfg.EmailVerification = auth.VerificationOff
	for _, s := range setups {
		s(e)
	}
	e.start()
	return e
}

// onPostgres is set by AUTH_TEST_STORE=postgres: every test then runs on PostgreSQL (in a schema
// of its own) instead of a SQLite file.
// (Read while tests run, so the test cache knows the variable.)
func onPostgres() bool { return os.Getenv("AUTH_TEST_STORE") == "postgres" }

func (e *env) open(ctx context.Context) (*sqlstore.Store, error) {
	if !onPostgres() {
		return sqlite.Open(ctx, e.dbPath)
	}
	if e.pgURL == "" {
		e.pgURL = authtest.PostgresURL(e.t)
	}
	return postgres.Open(ctx, e.pgURL, postgres.Options{})
}

// dump returns everything the database holds, as it would reach a backup.
func (e *env) dump() []byte {
	e.t.Helper()
	if !onPostgres() {
		e.store.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		b, err := os.ReadFile(e.dbPath)
		if err != nil {
			e.t.Fatal(err)
		}
		return b
	}
	var out bytes.Buffer
	for _, table := range []string{"users", "sessions", "refresh_tokens", "reset_codes", "outbox", "signing_keys", "refresh_keys", "secrets", "social_accounts"} {
		rows, err := e.store.DB().Query(`SELECT row_to_json(t)::text FROM ` + table + ` t`)
		if err != nil {
			e.t.Fatal(err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			out.WriteString(line + "\n")
		}
		rows.Close()
	}
	return out.Bytes()
}

// start opens the database and serves; restart calls it again on the same file.
func (e *env) start() {
	t := e.t
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	store, err := e.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	limiter := e.limiter
	if limiter == nil {
		limiter = ratelimit.NewMemory(e.clock.Now)
	}
	e.store = store
	if e.hasher == nil {
		e.hasher = auth.NewHasher(auth.DefaultHashParams, 4, 2*time.Second)
	}
	providers := map[string]auth.SocialProvider{}
	if e.google != nil {
		providers["google-oauth2"] = google.New(e.gcfg)
	}
	wake := mail.NewWake()
	e.svc, err = auth.New(ctx, e.cfg, auth.Deps{Providers: providers, Store: store, Limiter: limiter, ClientLimiter: limiter, Now: e.clock.Now, Log: log,
		Hasher: e.hasher, Mailed: wake.Notify})
	if err != nil {
		t.Fatal(err)
	}
	transport, err := mail.NewSMTP(e.smtp.URL(), "authd@example.com", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e.sender = mail.NewSender(store, transport, e.svc.OpenMessage, wake, log)
	e.sender.Now, e.sender.Poll = e.clock.Now, 20*time.Millisecond
	done := make(chan struct{})
	if e.mailByHand {
		close(done)
	} else {
		go func() { e.sender.Run(ctx); close(done) }()
	}
	opts := e.opts
	opts.Log = log
	e.handler = httpapi.NewHandler(e.svc, opts)
	srv := httptest.NewServer(e.handler)
	e.url = srv.URL
	t.Cleanup(func() { srv.Close(); cancel(); <-done; store.Close() })
}

type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// str returns a string member of the JSON body.
func (r response) str(key string) string { s, _ := r.body[key].(string); return s }

func (e *env) do(method, path, contentType, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	// Every exchange is also a test of openapi.json (openapi_test.go); benchmarks measure the
	// server, not the checker.
	if _, bench := e.t.(*testing.B); !bench && !e.admin {
		if err := checkExchange(e.t, method, path, contentType, body, headers, res.StatusCode, res.Header, raw); err != nil {
			e.t.Errorf("%s %s: %v", method, path, err)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Errorf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	return r
}

// post sends body as JSON.
func (e *env) post(path string, body any) response {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do("POST", path, "application/json", string(b))
}

type obj = map[string]any

// want fails the test unless r has the status and exactly the JSON body wantJSON.
func want(t testing.TB, r response, status int, wantJSON string) {
	t.Helper()
	if err := match(r, status, wantJSON); err != nil {
		t.Fatal(err)
	}
}

// match says how r differs from the status and exact JSON body wanted, or nil; for goroutines,
// which must report with t.Error rather than stop the test.
func match(r response, status int, wantJSON string) error {
	var got, exp any
	json.Unmarshal([]byte(r.raw), &got)
	if err := json.Unmarshal([]byte(wantJSON), &exp); err != nil {
		return fmt.Errorf("bad expectation %q: %v", wantJSON, err)
	}
	gotJSON, _ := json.Marshal(got)
	expJSON, _ := json.Marshal(exp)
	if r.status != status || !bytes.Equal(gotJSON, expJSON) {
		return fmt.Errorf("got %d %s\nwant %d %s", r.status, r.raw, status, expJSON)
	}
	return nil
}

const (
	testPassword = "correct horse battery"
	invalidToken = `{"detail":"Token is invalid or expired","code":"token_not_valid"}`
	noAccount    = `{"detail":"No active account found with the given credentials"}`
	badCode      = `{"otp":["Invalid or expired OTP."]}`
)

var phoneSeq atomic.Int32

// newPhone returns a valid London number no other test account has.
func newPhone() string { return fmt.Sprintf("+442071%06d", 830000+phoneSeq.Add(1)) }

// register makes an account with a password and returns its registration body.
func (e *env) register(email string) obj {
	e.t.Helper()
	body := obj{"first_name": "Grace", "last_name": "Hopper", "email": email, "phone_no": newPhone(), "password": testPassword}
	r := e.post("/auth/register/", body)
	want(e.t, r, 201, `{"detail":"User created successfully"}`)
	return body
}

// login signs in and returns the pair.
func (e *env) login(email, password string) (access, refresh string) {
	e.t.Helper()
	r := e.post("/auth/token/", obj{"email": email, "password": password})
	if r.status != 200 || r.str("access") == "" || r.str("refresh") == "" {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.raw)
	}
	return r.str("access"), r.str("refresh")
}

func (e *env) refresh(token string) response {
	e.t.Helper()
	return e.post("/auth/token/refresh/", obj{"refresh_token": token})
}

func (e *env) verify(token string) response {
	e.t.Helper()
	return e.post("/auth/token/verify/", obj{"access_token": token})
}

// resetCode requests a reset for email and returns the code from the reset email that arrives
// (other emails, such as a "password changed" notice still on its way, are passed over).
func (e *env) resetCode(email string) string {
	e.t.Helper()
	before := len(e.smtp.Received())
	want(e.t, e.post("/auth/password/reset/", obj{"email": email}), 200, `{"detail":"An OTP email was sent to the user"}`)
	for n := before + 1; ; n++ {
		msgs := e.smtp.WaitFor(n)
		for _, m := range msgs[before:] {
			if strings.EqualFold(m.To, email) && strings.Contains(m.Subject, "reset code") {
				return authtest.Code(e.t, m)
			}
		}
	}
}

// containsEvent reports whether a log line has the event.
func containsEvent(logs, event string) bool { return strings.Contains(logs, `"event":"`+event+`"`) }

// restartWith serves the same database with another hasher.
func (e *env) restartWith(h *auth.Hasher) {
	e.hasher = h
	e.start()
}

// waitSent waits until n outbox rows are recorded as sent.
func (e *env) waitSent(n int) {
	e.t.Helper()
	e.waitRow(fmt.Sprintf("%d emails recorded as sent", n), fmt.Sprintf(`SELECT COUNT(*) >= %d FROM outbox WHERE sent_at IS NOT NULL`, n))
}

// waitRow waits until the query (returning one boolean) is true, failing after 10 s. It waits
// for the background sender, which runs on its own goroutine (unless withMailByHand).
func (e *env) waitRow(what, query string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		e.store.DB().QueryRow(query).Scan(&ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
