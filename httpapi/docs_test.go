package httpapi_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDocsPage(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.url + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /docs: Content-Type %q, want HTML", ct)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET /docs: Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("GET /docs: Content-Security-Policy %q allows eval or another address", csp)
	}
	// The script is served with a validator, so a browser asks again for nothing.
	res, err = http.Get(e.url + "/docs/redoc.standalone.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || etag == "" {
		t.Fatalf("GET /docs/redoc.standalone.js: %d %q ETag %q", res.StatusCode, res.Header.Get("Content-Type"), etag)
	}
	req, _ := http.NewRequest("GET", e.url+"/docs/redoc.standalone.js", nil)
	req.Header.Set("If-None-Match", etag)
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("GET /docs/redoc.standalone.js with its ETag: %d, want 304", res.StatusCode)
	}
}

// TestDocsPageInABrowser opens /docs in headless Chromium (Debian's chromium; .ci/run installs
// it), finds every route of routes.go in the rendered page, and saves a screenshot.
func TestDocsPageInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium, as .ci/run does): the docs page is not opened in a browser")
	}
	e := newEnv(t)
	profile := t.TempDir()
	browse := func(args ...string) (stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
		cmd := exec.CommandContext(ctx, chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
			"--virtual-time-budget=10000"}, args...)...)
		var out, errs strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errs
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errs.String())
		}
		return out.String(), errs.String()
	}

	dom, console := browse("--dump-dom", e.url+"/docs")
	for _, route := range routes(t) {
		method, path, _ := strings.Cut(route, " ")
		m := strings.ToLower(method)
		// Redoc shows each operation as <span ... http-verb post">post</span><span ...>/path</span>.
		shown := regexp.MustCompile(`http-verb ` + m + `">` + m + `</span><span[^>]*>` + regexp.QuoteMeta(path) + `</span>`)
		if !shown.MatchString(dom) {
			t.Errorf("the rendered /docs does not list %s", route)
		}
	}
	// The policy lets nothing else load; what it blocked must only be Redoc's footer logo (an
	// image from Redocly's address, which the page hides when it does not load).
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, "Content Security Policy") && !strings.Contains(line, "cdn.redoc.ly/redoc/logo-mini.svg") {
			t.Errorf("the page's policy blocked something it needs: %s", line)
		}
	}

	dir := os.Getenv("AUTH_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(dir, "docs.png"))
	if err != nil {
		t.Fatal(err)
	}
	browse("--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", e.url+"/docs")
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot of /docs: %s", shot)
}
