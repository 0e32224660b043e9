package httpapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDoc is the OpenAPI 3.1 document of the public API, served at /openapi.json.
//
//go:embed openapi.json
var openAPIDoc []byte

var (
	//go:embed docs/index.html
	docsPage []byte
	//go:embed docs/redoc.standalone.js
	docsScript []byte
)

// docsPolicy lets /docs run only what authd serves: its own script, the document from
// /openapi.json, and the styles Redoc writes into the page (styled-components) and the search
// worker it starts from a blob. Nothing loads from another address.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDoc)
	})
}

// handleDocs serves the page that renders /openapi.json, the one answer of the public API in HTML.
func handleDocs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsPolicy)
		h.Set("X-Frame-Options", "DENY")
		w.Write(docsPage)
	})
}

// handleDocsScript serves the vendored renderer (docs/README.md). Browsers keep it and ask again
// with its ETag, instead of fetching a megabyte at every visit.
func handleDocsScript() http.Handler {
	sum := sha256.Sum256(docsScript)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Del("Pragma")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "redoc.standalone.js", time.Time{}, bytes.NewReader(docsScript))
	})
}
