// Package metrics is authd's Prometheus metrics (github.com/prometheus/client_golang), served
// at GET /metrics on the admin listener. Every label takes a bounded set of values: routes as
// routes.go lists them, never raw paths.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	auth "github.com/authd/authd"
)

// Metrics holds authd's series and the registry that serves them.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	signIns      *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	refreshReuse prometheus.Counter
}

// New returns the metrics, with Go's runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authd_http_requests_total",
		Help: "HTTP requests answered, by route (as routes.go lists it) and status."}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authd_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"})
	m.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authd_sign_ins_total",
		Help: "Sign-in attempts by method (password, mfa, google, social) and outcome (success, failure, locked, unverified, mfa_required)."},
		[]string{"method", "outcome"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authd_rate_limited_total",
		Help: "Requests refused by an abuse limit: login (failed sign-ins per email), ip (per client address), codes (emailed codes per email an hour)."},
		[]string{"limit"})
	m.refreshReuse = prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_refresh_reuse_total",
		Help: "Used refresh tokens presented again past the reuse window (each revokes its sign-in)."})
	m.reg.MustRegister(m.requests, m.latency, m.signIns, m.throttled, m.refreshReuse,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every label value known in advance is there from the start, at 0, so that rate() and
	// alerts see the first event.
	for _, l := range []string{"login", "ip", "codes"} {
		m.throttled.WithLabelValues(l)
	}
	for _, o := range []string{"success", "failure", "locked", "unverified", "mfa_required"} {
		m.signIns.WithLabelValues("password", o)
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one answered request (httpapi.Options.Requests).
func (m *Metrics) ObserveRequest(route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(elapsed.Seconds())
}

// Hasher exposes the password hashes running and waiting, as load reports them
// (auth.Service.HashLoad).
func (m *Metrics) Hasher(load func() (running, waiting int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authd_password_hashes_in_flight", Help: "Password hashes running now."},
			func() float64 { running, _ := load(); return float64(running) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authd_password_hashes_waiting", Help: "Requests waiting for a password-hashing slot."},
			func() float64 { _, waiting := load(); return float64(waiting) }),
	)
}

// Outbox exposes the unsent mail: how many emails wait and the age of the oldest. backlog is a
// cheap indexed query; its answer is kept for cache, so scrapes from several Prometheus servers
// cost the database one query per period.
func (m *Metrics) Outbox(backlog func(context.Context) (int, time.Time, error), now func() time.Time, cache time.Duration, log *slog.Logger) {
	var mu sync.Mutex
	var at time.Time
	var n int
	var oldest time.Time
	read := func() (int, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); at.IsZero() || t.Sub(at) >= cache {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			count, first, err := backlog(ctx)
			if err != nil {
				log.Warn("metrics: read the outbox backlog", "err", err)
				return n, oldest // the last reading, until the database answers again
			}
			at, n, oldest = t, count, first
		}
		return n, oldest
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authd_outbox_depth", Help: "Emails waiting to be sent."},
			func() float64 { count, _ := read(); return float64(count) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authd_outbox_oldest_age_seconds", Help: "Age of the oldest email waiting to be sent; 0 when none waits."},
			func() float64 {
				_, first := read()
				if first.IsZero() {
					return 0
				}
				return max(0, now().Sub(first).Seconds())
			}),
	)
}

// StoreErrors exposes the database errors the store met, by kind (unavailable, query): errors
// returns their counts so far.
func (m *Metrics) StoreErrors(errors func() (unavailable, query int64)) {
	desc := prometheus.NewDesc("authd_store_errors_total", "Database operations that failed, by kind: unavailable (the database could not be reached) or query.", []string{"kind"}, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		unavailable, query := errors()
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(unavailable), "unavailable")
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(query), "query")
	}})
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// Store wraps s so that the hourly cap on emailed codes, which the store enforces, is counted
// when it refuses one.
func (m *Metrics) Store(s auth.Store) auth.Store { return codeCounter{Store: s, m: m} }

type codeCounter struct {
	auth.Store
	m *Metrics
}

func (c codeCounter) AddCode(ctx context.Context, code auth.Code, mail *auth.Outgoing, limit int, since time.Time, audit ...auth.AuditEvent) error {
	err := c.Store.AddCode(ctx, code, mail, limit, since, audit...)
	if _, ok := err.(*auth.ThrottledError); ok {
		c.m.throttled.WithLabelValues("codes").Inc()
	}
	return err
}

// Events wraps a log handler so that the service's security events (auth.Service logs each with
// an "event" attribute) are counted as they are logged, whatever the log level lets through.
func (m *Metrics) Events(next slog.Handler) slog.Handler { return eventCounter{next: next, m: m} }

type eventCounter struct {
	next slog.Handler
	m    *Metrics
}

func (h eventCounter) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.next.Enabled(ctx, level)
}

func (h eventCounter) Handle(ctx context.Context, r slog.Record) error {
	var event, method, amr string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "event":
			event = a.Value.String()
		case "method", "provider":
			method = a.Value.String()
		case "amr":
			amr = a.Value.String()
		}
		return true
	})
	if event != "" {
		h.m.count(event, method, amr)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h eventCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return eventCounter{next: h.next.WithAttrs(as), m: h.m}
}

func (h eventCounter) WithGroup(name string) slog.Handler {
	return eventCounter{next: h.next.WithGroup(name), m: h.m}
}

// count turns a security event into its series. method is a social provider's name, amr how a
// sign-in was proven; both are mapped to a fixed set of label values.
func (m *Metrics) count(event, provider, amr string) {
	method := "password"
	switch {
	case provider != "" && strings.HasPrefix(provider, "google"):
		method = "google"
	case provider != "":
		method = "social"
	case strings.Contains(amr, "otp") || strings.Contains(amr, "mfa"):
		method = "mfa"
	}
	switch event {
	case "login", "legacy_refresh": // a sign-in with a token of the original service is one too
		m.signIns.WithLabelValues(method, "success").Inc()
	case "login_failed":
		m.signIns.WithLabelValues(method, "failure").Inc()
	case "social_failed":
		m.signIns.WithLabelValues(method, "failure").Inc()
	case "mfa_code_failed":
		m.signIns.WithLabelValues("mfa", "failure").Inc()
	case "login_unverified":
		m.signIns.WithLabelValues(method, "unverified").Inc()
	case "mfa_required":
		m.signIns.WithLabelValues(method, "mfa_required").Inc()
	case "login_locked":
		m.signIns.WithLabelValues(method, "locked").Inc()
		m.throttled.WithLabelValues("login").Inc()
	case "ip_throttled":
		m.throttled.WithLabelValues("ip").Inc()
	case "refresh_reuse":
		m.refreshReuse.Inc()
	}
}
