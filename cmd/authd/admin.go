package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	auth "github.com/authd/authd"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/metrics"
)

// serveAdmin serves the admin API on AUTH_ADMIN_ADDR, when it is set, and returns its server
// (nil when it is not) for run to shut down.
func serveAdmin(cfg config, svc *auth.Service, log *slog.Logger, m *metrics.Metrics) (*http.Server, error) {
	if cfg.AdminAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("AUTH_ADMIN_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler: httpapi.NewAdminHandler(svc, httpapi.AdminOptions{
			Log: log, Token: cfg.AdminToken, TrustedProxies: cfg.TrustedProxies,
			Metrics: m.Handler(), Requests: m.ObserveRequest,
		}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	log.Info("admin API listening: keep this address private", "addr", ln.Addr().String())
	return srv, nil
}
