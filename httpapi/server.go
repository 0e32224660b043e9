// Package httpapi is authd's HTTP contract: routes, request decoding, and the mapping of domain
// errors to the responses clients of the original service expect.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/rs/cors"

	auth "github.com/authd/authd"
)

// Options configure the HTTP layer. The zero value serves with no CORS origins and trusts no
// proxy. (The per-address limit is the Service's: auth.Config.IPRateLimit.)
type Options struct {
	Log            *slog.Logger
	CORSOrigins    []string // origins allowed to call from a browser; "*" allows any
	TrustedProxies []netip.Prefix
	// Checks are the dependencies authd works without, by name ("redis"): when one fails,
	// /healthz still answers 200 but says "degraded". The database is always checked, and
	// its failure is a 503.
	Checks  map[string]func(context.Context) error
	Version string // shown by /healthz
	// Requests, when set, is told of every request: its route (the pattern it matched, as
	// routes.go lists it), status and time taken (the metrics).
	Requests func(route string, status int, elapsed time.Duration)
}

// NewHandler returns the HTTP handler serving svc.
func NewHandler(svc *auth.Service, o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "(devel)" // as Go names a build that no version was stamped on
	}
	mux := http.NewServeMux()
	addRoutes(mux, svc, o.Log, o.Checks, o.Version, limitByAddress(svc, o.Log))
	h := instrument(o.Requests, refuseUncleanPaths(mux))
	if len(o.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: o.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodOptions},
			AllowedHeaders: []string{"Content-Type", "Authorization", "X-Request-ID"},
			// Browser code may read only the headers listed here: clients are told to honour
			// Retry-After, and X-Request-ID ties an answer to the server's log line.
			ExposedHeaders: []string{"Retry-After", "X-Request-ID"},
			MaxAge:         600,
		}).Handler(h)
		h = lowerPreflightHeaders(h)
	}
	h = secureHeaders(h)
	h = recoverPanics(o.Log, h)
	return logRequests(o.Log, o.TrustedProxies, h)
}
