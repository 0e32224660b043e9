package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// instrument tells observe of every request the mux inside it serves: the route (the pattern it
// matched, without the trailing slash serve adds, so a label set as small as routes.go), the
// status and the time taken. ServeMux records the pattern on the request it is given, which is
// why this sits right outside it.
func instrument(observe func(route string, status int, elapsed time.Duration), mux http.Handler) http.Handler {
	if observe == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		observe(routeOf(r.Pattern), rec.status, time.Since(start))
	})
}

// routeOf is a route's name from the pattern it was served under: "/auth/token/{$}" and
// "/auth/token" are both "/auth/token"; a request no route took (an unclean path) is "none".
func routeOf(pattern string) string {
	if pattern == "" {
		return "none"
	}
	if route := strings.TrimSuffix(strings.TrimSuffix(pattern, "{$}"), "/"); route != "" {
		return route
	}
	return "/"
}
