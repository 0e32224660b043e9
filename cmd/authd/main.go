// Command authd is the authentication service: `authd -h` lists its settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/google"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/mail"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "authd:", err)
		os.Exit(1)
	}
}

// Server timeouts: a slow or idle client cannot hold a connection for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 30 * time.Second
	purgeInterval     = 10 * time.Minute
)

// run starts authd and serves until ctx is done, then drains in-flight requests and the mail
// sender and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level}))

	store, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()

	limiter := ratelimit.NewMemory(nil)
	var sender *mail.Sender
	svcCfg := auth.DefaultConfig()
	svcCfg.Issuer = cfg.Issuer
	svcCfg.AccessTTL, svcCfg.RefreshTTL, svcCfg.SessionMaxAge = cfg.AccessTTL, cfg.RefreshTTL, cfg.SessionMaxAge
	svcCfg.CodeTTL, svcCfg.ReuseWindow = cfg.OTPTTL, cfg.ReuseWindow
	svcCfg.RevealUnknownEmail, svcCfg.PhoneRegion = cfg.RevealUnknown, cfg.PhoneRegion
	svcCfg.LoginFailureLimit, svcCfg.CodesPerHour = cfg.LoginFailureLimit, cfg.ResetCodeLimit
	svcCfg.MinPasswordLength = cfg.MinPasswordLength
	providers := map[string]auth.SocialProvider{}
	if cfg.Google.ClientID != "" {
		providers["google-oauth2"] = google.New(cfg.Google)
	}
	svc, err := auth.New(ctx, svcCfg, auth.Deps{
		Providers: providers,
		Store:     store,
		Limiter:   limiter,
		Hasher:    auth.NewHasher(auth.DefaultHashParams, cfg.HashConcurrency, 2*time.Second),
		Log:       log,
		Mailed:    func() { sender.Wake() },
	})
	if err != nil {
		return err
	}

	var transport mail.Transport = mail.Log{Logger: log}
	if cfg.SMTPURL != "" {
		if transport, err = mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, 20*time.Second); err != nil {
			return fmt.Errorf("AUTH_SMTP_URL: %w", err)
		}
	}
	sender = mail.NewSender(store, transport, svc.OpenMessage, log)

	srv := &http.Server{
		Handler: httpapi.NewHandler(svc, httpapi.Options{
			Log: log, CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
			Limiter: limiter, IPRateLimit: cfg.IPRateLimit,
		}),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("AUTH_ADDR: %w", err)
	}

	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { sender.Run(background) })
	wg.Go(func() { purgeLoop(background, store, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("authd listening", "addr", ln.Addr().String(), "database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0], "smtp", cfg.SMTPURL != "", "google", cfg.Google.ClientID != "")

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: draining requests")
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = srv.Shutdown(shutCtx)
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

// openStore opens the database AUTH_DATABASE_URL names.
func openStore(ctx context.Context, cfg config) (*sqlstore.Store, error) {
	if path, ok := strings.CutPrefix(cfg.DatabaseURL, "sqlite:"); ok {
		return sqlite.Open(ctx, path)
	}
	return postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStatementTimeout})
}

// purgeLoop deletes what can no longer matter (expired tokens, old codes, sent mail) in small
// batches, so storage stays bounded however long authd runs.
func purgeLoop(ctx context.Context, store auth.Store, log *slog.Logger) {
	tick := time.NewTicker(purgeInterval)
	defer tick.Stop()
	for {
		for {
			n, err := store.Purge(ctx, time.Now(), 500)
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
