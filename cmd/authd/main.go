// Command authd is the authentication service: `authd -h` lists its commands and settings.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/google"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/mail"
	"github.com/authd/authd/metrics"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/sqlstore"

	// Mozilla's root certificates, used only where the system has none (a scratch container
	// image), so that Google and SMTP over TLS work from the bare static binary.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Environ, os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &usage): // a command line authd does not understand: 2, as the flag package
		if !usage.shown {
			fmt.Fprintln(os.Stderr, "authd:", err)
		}
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "authd:", err)
		os.Exit(1)
	}
}

// usageError is a command line authd does not understand. shown: the flag package has already
// printed it, with the usage.
type usageError struct {
	msg   string
	shown bool
}

func (e usageError) Error() string { return e.msg }

// parseFlags parses args into fs. A bad flag is a usageError (-h is flag.ErrHelp).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{msg: err.Error(), shown: true}
	}
	return err
}

const (
	shutdownTimeout = 30 * time.Second
	purgeInterval   = 10 * time.Minute
)

// run starts authd and serves until ctx is done, then drains in-flight requests and the mail
// sender and returns nil. getenv reads one variable, environ lists them all (as os.Environ).
//
// When args start with a command's words (see commands), run runs that command instead.
func run(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdout, stderr io.Writer) error {
	env := environment{get: getenv, list: environ}
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || args[0] == "-version" || args[0] == "--version") {
		return runCommand(ctx, args, env, stdout, stderr)
	}
	cfg, err := loadConfig(args, env, stderr)
	if err != nil {
		return err
	}
	tuneGC(getenv, cfg.HashConcurrency)
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	logOut := newLogWriter(stdout)
	defer logOut.Close()
	var logHandler slog.Handler = slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level})
	var m *metrics.Metrics // with the admin listener only: it serves them
	if cfg.AdminAddr != "" {
		m = metrics.New()
		logHandler = m.Events(logHandler)
	}
	log := slog.New(logHandler)

	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()

	// Failed sign-ins are counted where every instance sees them: in Redis when it is configured
	// (in the database while it is down), else in the database. The per-address limit stays in
	// memory without Redis: it is hit by every credential request, those it refuses included,
	// and a database write for each would turn the limit that sheds a flood into load on the
	// database.
	var lim limiters
	lim.clients, lim.failures = ratelimit.NewMemory(nil), store.Limiter(nil)
	checks := map[string]func(context.Context) error{}
	if cfg.RedisURL != "" {
		redis, err := ratelimit.NewRedis(cfg.RedisURL, log)
		if err != nil {
			return fmt.Errorf("AUTH_REDIS_URL: %w", err)
		}
		defer redis.Close()
		if err := redis.Ping(ctx); err != nil {
			log.Warn("Redis does not answer yet: limits fall back until it does", "err", err)
		}
		lim.clients, lim.failures, checks["redis"] = redis, redis.WithFallback(lim.failures), redis.Ping
	}
	wake := mail.NewWake()
	var svcStore auth.Store = store
	if m != nil {
		svcStore = m.Store(store)
	}
	svc, err := newService(ctx, cfg, svcStore, lim, log, wake.Notify)
	if err != nil {
		return err
	}
	var observe func(string, int, time.Duration)
	if m != nil {
		m.Hasher(svc.HashLoad)
		m.Outbox(store.OutboxBacklog, time.Now, 5*time.Second, log)
		m.StoreErrors(store.Errors)
		observe = m.ObserveRequest
	}

	var transport mail.Transport = mail.Log{Logger: log}
	if cfg.SMTPURL != "" {
		if transport, err = mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, 20*time.Second); err != nil {
			return fmt.Errorf("AUTH_SMTP_URL: %w", err)
		}
	}
	sender := mail.NewSender(store, transport, svc.OpenMessage, wake, log)

	srv := &http.Server{
		Handler: httpapi.NewHandler(svc, httpapi.Options{
			Log: log, CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
			Checks: checks, Version: version(), Requests: observe,
		}),
		// A slow or idle client cannot hold a connection for long.
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("AUTH_ADDR: %w", err)
	}

	if cfg.DebugAddr != "" {
		dbg, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("AUTH_DEBUG_ADDR: %w", err)
		}
		debugSrv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: cfg.ReadHeaderTimeout}
		go debugSrv.Serve(dbg)
		defer debugSrv.Close()
		log.Warn("debug endpoints (profiler, runtime counters) listening: keep this address private", "addr", dbg.Addr().String())
	}

	adminSrv, err := serveAdmin(cfg, svc, log, m)
	if err != nil {
		ln.Close()
		return err
	}

	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { sender.Run(background) })
	wg.Go(func() { purgeLoop(background, store, cfg.AuditRetention, log) })
	wg.Go(func() { reloadKeysLoop(background, svc, cfg.KeyReloadInterval, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("authd listening", "addr", ln.Addr().String(), "database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0], "smtp", cfg.SMTPURL != "", "google", cfg.Google.ClientID != "", "master_key", cfg.MasterKey != nil)

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: draining requests")
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = srv.Shutdown(shutCtx)
		if adminSrv != nil {
			adminSrv.Shutdown(shutCtx)
		}
		cancel()
	}
	stopBackground()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("authd stopped")
	return nil
}

// tuneGC sets how often Go collects garbage, unless the operator chose with GOGC or GOMEMLIMIT.
// authd's live heap is a few MiB while requests allocate quickly, so Go's default (collect each
// time the heap doubles) ran dozens of collections a second under load. Collecting at five times
// the live heap frees that CPU for requests. The soft limit keeps a sign-in flood from taking more
// memory for it; it leaves room for every hash running at once (19 MiB each), since a limit below
// the live heap would have the collector run without pause.
func tuneGC(getenv func(string) string, hashes int) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcMemoryLimit(hashes))
	}
}

// gcMemoryLimit is 128 MiB and twice the memory of the hashes that may run at once: 204 MiB on
// two cores.
func gcMemoryLimit(hashes int) int64 {
	return 128<<20 + int64(hashes)*2*int64(auth.DefaultHashParams.Memory)<<10
}

// debugHandler is Go's profiler and runtime counters, for AUTH_DEBUG_ADDR only. Neither shows
// the command line (pprof's cmdline, expvar's default "cmdline"): flags can carry secrets.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/cmdline", http.NotFound)
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"goroutines": runtime.NumGoroutine(),
			"memstats":   map[string]uint64{"HeapAlloc": m.HeapAlloc, "HeapSys": m.HeapSys, "Sys": m.Sys, "NumGC": uint64(m.NumGC)},
		})
	})
	return mux
}

// openStore opens the database AUTH_DATABASE_URL names. The server creates it (existing false);
// the other commands open only a database the server made. Its errors are one line naming
// AUTH_DATABASE_URL, without the password.
func openStore(ctx context.Context, cfg config, existing bool) (*sqlstore.Store, error) {
	var store *sqlstore.Store
	var err error
	where := redactURL(cfg.DatabaseURL)
	path, isSQLite := strings.CutPrefix(cfg.DatabaseURL, "sqlite:")
	if isSQLite {
		where = path
		store, err = sqlite.Open(ctx, path, sqlite.Options{Synchronous: cfg.SQLiteSynchronous, Existing: existing})
	} else {
		store, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStatementTimeout, Existing: existing})
	}
	switch {
	case err == nil:
		return store, nil
	case errors.Is(err, sqlite.ErrNotCreated):
		return nil, fmt.Errorf("AUTH_DATABASE_URL: no authd database at %s: the server (authd with no command) creates it on first start", where)
	case errors.Is(err, postgres.ErrNotCreated):
		return nil, fmt.Errorf("AUTH_DATABASE_URL: %s: %v: the server (authd with no command) creates them on first start", where, err)
	case errors.Is(err, auth.ErrUnavailable):
		return nil, fmt.Errorf("AUTH_DATABASE_URL: %s: %s", where, hidePassword(oneLine(err), cfg.DatabaseURL))
	}
	return nil, fmt.Errorf("AUTH_DATABASE_URL: open %s: %s", where, hidePassword(oneLine(err), cfg.DatabaseURL))
}

// oneLine is err's message on one line: drivers list causes on lines of their own.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// hidePassword replaces the password of rawURL, wherever msg quotes it.
func hidePassword(msg, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// newService builds the domain service from the settings.
// limiters are where the Service counts its abuse limits (none: the limits are off).
type limiters struct{ failures, clients auth.Limiter }

func newService(ctx context.Context, cfg config, store auth.Store, lim limiters, log *slog.Logger, mailed func()) (*auth.Service, error) {
	providers := map[string]auth.SocialProvider{}
	if cfg.Google.ClientID != "" {
		providers["google-oauth2"] = google.New(cfg.Google)
	}
	svc, err := auth.New(ctx, cfg.Config, auth.Deps{
		Store:         store,
		Limiter:       lim.failures,
		ClientLimiter: lim.clients,
		Hasher:        auth.NewHasher(auth.DefaultHashParams, cfg.HashConcurrency, 2*time.Second),
		Log:           log,
		Mailed:        mailed,
		Providers:     providers,
		MasterKey:     cfg.MasterKey,
	})
	if errors.Is(err, auth.ErrSealed) {
		return nil, errors.New("key material is sealed: set AUTH_MASTER_KEY to the key that sealed it")
	}
	return svc, err
}

// reloadKeysLoop picks up signing keys other instances or `authd keys rotate` added.
func reloadKeysLoop(ctx context.Context, svc *auth.Service, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := svc.ReloadKeys(ctx); err != nil && ctx.Err() == nil {
				log.Error("reload signing keys", "err", err)
			}
		}
	}
}

// rotateKeys is `authd keys rotate`: it adds a signing key and a refresh key to the database the
// settings name, sealed with AUTH_MASTER_KEY when it is set (as the service that reads them).
func rotateKeys(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	activate := fs.Duration("activate-after", 0, "")
	read := settingFlags(fs, env) // the server's settings, not listed in the usage
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: authd keys rotate [-activate-after duration]

Adds a signing key (access tokens) and a refresh key (refresh tokens) of the next generation to
the database. Running instances load them at their next key reload, within their reload interval
(AUTH_KEY_RELOAD_INTERVAL), and sign with them from the time printed.

  -activate-after duration
      how long from now the new keys start signing, e.g. 5m (default: twice AUTH_KEY_RELOAD_INTERVAL,
      by which time every instance has loaded them)

It reads the same AUTH_* settings as the server (authd -h lists them), from the environment or as
flags: AUTH_DATABASE_URL names the database, which the server creates on first start (this command
creates none), and AUTH_MASTER_KEY seals the new keys.
`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("unexpected argument %q: authd keys rotate -h describes the command", fs.Arg(0))}
	}
	cfg, err := read()
	if err != nil {
		return err
	}
	chosen := false
	fs.Visit(func(f *flag.Flag) { chosen = chosen || f.Name == "activate-after" })
	if !chosen {
		*activate = 2 * cfg.KeyReloadInterval // every instance has loaded them by then
	} else if *activate < 0 {
		return usageError{msg: fmt.Sprintf("-activate-after: want a duration of 0 or more, such as 5m, got %v", *activate)}
	}
	store, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(ctx, cfg, store, limiters{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	k, err := svc.RotateKeys(ctx, *activate)
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	fmt.Fprintf(stdout, "added signing key %s and a refresh key (generation %d)\n", k.ID, k.Generation)
	fmt.Fprintf(stdout, "running instances load them within their reload interval (AUTH_KEY_RELOAD_INTERVAL, %s here) and sign with them from %s, each at its first reload after that time\n",
		shortDuration(cfg.KeyReloadInterval), k.ActivatesAt.UTC().Format(time.RFC3339))
	if *activate < cfg.KeyReloadInterval {
		fmt.Fprintf(stdout, "-activate-after %s is shorter than the reload interval: until every instance has reloaded, some refuse the tokens that others sign with the new keys\n", shortDuration(*activate))
	}
	return nil
}

// purgeLoop deletes what can no longer matter (expired tokens, old codes, sent mail, audit events
// older than keepAudit) in small batches, so storage stays bounded however long authd runs.
func purgeLoop(ctx context.Context, store auth.Store, keepAudit time.Duration, log *slog.Logger) {
	tick := time.NewTicker(purgeInterval)
	defer tick.Stop()
	for {
		for {
			n, err := store.Purge(ctx, time.Now(), 500, keepAudit)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("purge failed", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
			log.Debug("purged rows", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
