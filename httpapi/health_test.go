package httpapi_test

import (
	"context"
	"errors"
	"testing"
)

func TestLivenessReadinessAndHealth(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.Version = "v1.2.3-test" })
	for _, path := range []string{"/livez", "/livez/"} {
		want(t, e.do("GET", path, "", ""), 200, `{"status":"ok"}`)
	}
	for _, path := range []string{"/readyz", "/readyz/"} {
		want(t, e.do("GET", path, "", ""), 200, `{"status":"ok","database":"ok"}`)
	}
	for _, path := range []string{"/healthz", "/healthz/"} {
		want(t, e.do("GET", path, "", ""), 200, `{"status":"ok","database":"ok","version":"v1.2.3-test"}`)
	}
	for _, path := range []string{"/livez", "/readyz"} {
		if r := e.do("POST", path, "application/json", `{}`); r.status != 405 || r.header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("POST %s: %d Allow %q, want 405 GET, HEAD, OPTIONS", path, r.status, r.header.Get("Allow"))
		}
	}
}

func TestLivenessHoldsWhileTheDatabaseIsDown(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.Version = "v1.2.3-test" })
	e.store.Close() // the database no longer answers
	want(t, e.do("GET", "/livez", "", ""), 200, `{"status":"ok"}`)
	want(t, e.do("GET", "/readyz", "", ""), 503, `{"status":"unavailable","database":"unavailable"}`)
	want(t, e.do("GET", "/healthz", "", ""), 503, `{"status":"unavailable","database":"unavailable","version":"v1.2.3-test"}`)
}

func TestReadinessReportsADegradedDependency(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.opts.Checks = map[string]func(context.Context) error{"redis": func(context.Context) error { return errors.New("connection refused") }}
	})
	want(t, e.do("GET", "/readyz", "", ""), 200, `{"status":"degraded","database":"ok","redis":"unavailable"}`)
	want(t, e.do("GET", "/livez", "", ""), 200, `{"status":"ok"}`)
	// With no version given (a build nothing stamped), /healthz says so in Go's word for it.
	want(t, e.do("GET", "/healthz", "", ""), 200, `{"status":"degraded","database":"ok","redis":"unavailable","version":"(devel)"}`)
}
