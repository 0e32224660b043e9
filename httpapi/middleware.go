package httpapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	auth "github.com/authd/authd"
)

func requestID(ctx context.Context) string { return auth.ClientFrom(ctx).RequestID }

func clientIP(ctx context.Context) string { return auth.ClientFrom(ctx).IP }

// maxUserAgent bounds the user agent kept of a request, in characters.
const maxUserAgent = 512

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests gives each request an id and a client address, carried in its context as an
// auth.Client for the security events it causes, and logs one line per request:
// method, path, status, duration. Never the body, the query or a header: they can hold secrets.
func logRequests(log *slog.Logger, trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = rand.Text()[:16]
		}
		ip := resolveClientIP(r, trusted)
		w.Header().Set("X-Request-ID", id)
		ua := r.UserAgent()
		if len(ua) > utf8.UTFMax*maxUserAgent { // enough bytes for maxUserAgent characters
			ua = ua[:utf8.UTFMax*maxUserAgent]
		}
		if ua = strings.ToValidUTF8(ua, ""); utf8.RuneCountInString(ua) > maxUserAgent {
			ua = string([]rune(ua)[:maxUserAgent]) // characters, as the contract counts them
		}
		ctx := auth.WithClient(r.Context(), auth.Client{IP: ip, RequestID: id, UserAgent: ua})
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", id, "client_ip", ip)
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}

// resolveClientIP is the connection's address, or, when the connection comes from a trusted
// proxy, the nearest X-Forwarded-For entry that is not itself a trusted proxy.
func resolveClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(addr, trusted) {
			return addr.Unmap().String()
		}
		peer = addr
	}
	return peer.Unmap().String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limitByAddress wraps a credential endpoint so each request counts against the per-address
// limit before it is read (auth.Service.AdmitClient).
func limitByAddress(svc *auth.Service, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := svc.AdmitClient(r.Context()); err != nil {
				writeError(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// lowerPreflightHeaders lower-cases the header names a preflight asks for: rs/cors compares them
// as written, and header names are case-insensitive (browsers send them lower-cased, other
// clients may not).
func lowerPreflightHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			if v := r.Header.Values("Access-Control-Request-Headers"); len(v) > 0 {
				r.Header.Set("Access-Control-Request-Headers", strings.ToLower(strings.Join(v, ",")))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// secureHeaders marks every answer as not to be cached (they carry tokens and code state) and
// not to be sniffed.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into the generic 500; the stack goes to the log only.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "request_id", requestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": msgServerError})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
