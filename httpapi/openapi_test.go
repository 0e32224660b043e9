package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The OpenAPI document (openapi.json, served at /openapi.json) is checked three ways: it is a
// valid OpenAPI 3.1 document; its paths and methods are exactly the routes of routes.go; and
// every request env.do sends, with its answer, is checked against it (checkExchange), so that
// every HTTP test is also a test of the document.

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// openAPI loads and validates openapi.json once for the whole test binary.
func openAPI(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		// Bodies of the two answers that are not JSON: the page and its script.
		for _, ct := range []string{"text/html", "text/javascript"} {
			openapi3filter.RegisterBodyDecoder(ct, func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
				b, err := io.ReadAll(body)
				return string(b), err
			})
		}
		loader := openapi3.NewLoader()
		spec.doc, spec.err = loader.LoadFromFile("openapi.json")
		if spec.err != nil {
			return
		}
		// An "openapi": "3.1.x" document is validated as 3.1 (JSON Schema 2020-12) by
		// kin-openapi, here and in openapi3filter, without a flag.
		if spec.err = spec.doc.Validate(context.Background()); spec.err != nil {
			return
		}
		spec.router, spec.err = gorillamux.NewRouter(spec.doc)
	})
	if spec.err != nil {
		t.Fatalf("openapi.json: %v", spec.err)
	}
	return spec.doc, spec.router
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, _ := openAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
}

// routeLine is one endpoint line of routes.go: post(mux, "/path", ...), get(...), or
// serve(mux, "/path", methods{"GET": ..., "PATCH": ...}).
var (
	routeLine   = regexp.MustCompile(`^\s*(post|get|serve)\(mux, "([^"]+)"(.*)$`)
	methodEntry = regexp.MustCompile(`"([A-Z]+)":`)
)

// routes returns "METHOD /path" for every endpoint routes.go serves.
func routes(t *testing.T) []string {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	// The public routes only: the admin API (addAdminRoutes) is on a listener of its own, which
	// the document does not describe.
	public, _, _ := strings.Cut(string(src)[strings.Index(string(src), "func addRoutes("):], "\n}\n")
	var out []string
	for _, line := range strings.Split(public, "\n") {
		m := routeLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch m[1] {
		case "post":
			out = append(out, "POST "+m[2])
		case "get":
			out = append(out, "GET "+m[2])
		default:
			for _, mm := range methodEntry.FindAllStringSubmatch(m[3], -1) {
				out = append(out, mm[1]+" "+m[2])
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d routes in routes.go: has its layout changed?", len(out))
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIHasEveryRoute(t *testing.T) {
	doc, _ := openAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(documented)
	served := routes(t)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("routes.go serves %s, which openapi.json does not describe", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.json describes %s, which routes.go does not serve", d)
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/openapi.json", "", "")
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || r.raw != string(file) {
		t.Fatalf("GET /openapi.json: %d, %d bytes; want 200 and openapi.json's %d bytes", r.status, len(r.raw), len(file))
	}
}

// checkExchange checks one request env.do sent, and its answer, against the document:
//   - a path the document does not list must answer its 404, a method it does not list for the
//     path the 405 (components.responses.NotFound and MethodNotAllowed);
//   - a request the document calls valid must get an answer the operation lists, exactly as it
//     describes it (status, required headers, body schema);
//   - a request the document calls invalid (a wrong media type, a field that is not a string, a
//     missing token...) must be refused with a 4xx that the operation lists: the document may
//     not be stricter than the code.
//
// It returns what differs, or nil. Paths are matched with or without their trailing slash.
func checkExchange(t testing.TB, method, path, contentType, body string, headers []string, status int, resHeader http.Header, raw []byte) error {
	doc, router := openAPI(t)
	if method == "OPTIONS" || method == "HEAD" {
		return nil // preflights (cors_test.go) and HEAD are not operations of the document
	}
	newRequest := func(p string) *http.Request {
		req, _ := http.NewRequest(method, "http://authd.test"+p, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return req
	}
	p, query, _ := strings.Cut(path, "?")
	alt := p + "/"
	if strings.HasSuffix(p, "/") {
		alt = strings.TrimSuffix(p, "/")
	}
	if query != "" {
		p, alt = p+"?"+query, alt+"?"+query
	}
	req := newRequest(p)
	route, params, err := router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) {
		req = newRequest(alt)
		route, params, err = router.FindRoute(req)
	}
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return componentAnswer(doc, "NotFound", 404, status, resHeader, raw)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return componentAnswer(doc, "MethodNotAllowed", 405, status, resHeader, raw)
	case err != nil:
		return fmt.Errorf("finding the operation: %v", err)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			// The scheme is HTTP bearer: a request the document accepts carries one.
			f := strings.FieldsFunc(in.RequestValidationInput.Request.Header.Get("Authorization"), func(r rune) bool { return r == ' ' || r == '\t' })
			if len(f) != 2 || !strings.EqualFold(f[0], "Bearer") {
				return errors.New("no bearer token")
			}
			return nil
		},
	}
	reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), reqIn)
	resIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: status, Header: resHeader, Options: opts}
	resIn.SetBodyBytes(raw)
	if err := openapi3filter.ValidateResponse(context.Background(), resIn); err != nil {
		return fmt.Errorf("the answer %d %s does not match openapi.json: %v", status, clip(raw), err)
	}
	if reqErr != nil && (status < 400 || status >= 500) {
		return fmt.Errorf("openapi.json calls the request invalid (%v), but it was answered %d", reqErr, status)
	}
	return nil
}

// componentAnswer checks an answer against one of the document's shared responses.
func componentAnswer(doc *openapi3.T, name string, wantStatus, status int, header http.Header, raw []byte) error {
	if status != wantStatus {
		return fmt.Errorf("a path or method openapi.json does not list was answered %d %s, want %d", status, clip(raw), wantStatus)
	}
	r := doc.Components.Responses[name].Value
	for h, ref := range r.Headers {
		if ref.Value.Required && header.Get(h) == "" {
			return fmt.Errorf("the %d has no %s header", status, h)
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the %d body is not JSON: %v", status, err)
	}
	if err := r.Content.Get("application/json").Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("the %d %s does not match components.responses.%s: %v", status, clip(raw), name, err)
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(bytes.TrimSpace(b[:300])) + "..."
	}
	return string(bytes.TrimSpace(b))
}

// The checker itself: answers that differ from the document are caught.
func TestCheckExchangeCatchesDrift(t *testing.T) {
	id := http.Header{"X-Request-Id": {"abc"}, "Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		raw                                   string
	}{
		{"a missing member", "POST", "/auth/token/", "application/json", `{"email":"a@example.com","password":"x"}`, 200, `{"access":"x"}`},
		{"an extra member", "POST", "/auth/token/", "application/json", `{"email":"a@example.com","password":"x"}`, 200, `{"access":"x","refresh":"y","z":1}`},
		{"a status not listed", "POST", "/auth/token/refresh", "application/json", `{"refresh":"x"}`, 404, `{"detail":"Not found."}`},
		{"a field not listed in a field error", "POST", "/auth/token/refresh", "application/json", `{"refresh":"x"}`, 400, `{"email":["x"]}`},
		{"an invalid request served", "POST", "/auth/token/", "text/plain", `hello`, 200, `{"access":"x","refresh":"y"}`},
		{"an unknown path served", "GET", "/auth/nope", "", "", 200, `{}`},
		{"a method not listed served", "PUT", "/auth/me/", "", "", 200, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkExchange(t, tt.method, tt.path, tt.contentType, tt.body, nil, tt.status, id, []byte(tt.raw)); err == nil {
				t.Errorf("%s %s answered %d %s: no mismatch found", tt.method, tt.path, tt.status, tt.raw)
			}
		})
	}
	if err := checkExchange(t, "POST", "/auth/token", "application/json", `{"email":"a@example.com","password":"x"}`, nil, 200, id, []byte(`{"access":"x","refresh":"y"}`)); err != nil {
		t.Errorf("a right answer: %v", err)
	}
}
