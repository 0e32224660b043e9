package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	auth "github.com/authd/authd"
)

// addRoutes is authd's whole HTTP surface. Every path answers with and without its trailing
// slash; limited marks the credential endpoints that count against the per-address limit.
func addRoutes(mux *http.ServeMux, svc *auth.Service, log *slog.Logger, checks map[string]func(context.Context) error, version string, limited func(http.Handler) http.Handler) {
	post(mux, "/auth/register/", limited(handleRegister(svc, log)))
	post(mux, "/auth/token/", limited(handleToken(svc, log)))
	post(mux, "/auth/token/refresh/", handleRefresh(svc, log))
	post(mux, "/auth/token/verify/", handleVerify(svc, log))
	post(mux, "/auth/logout/", handleLogout(svc, log))
	post(mux, "/auth/password/reset/", limited(handleResetRequest(svc, log)))
	post(mux, "/auth/password/reset/verify/", limited(handleResetVerify(svc, log)))
	post(mux, "/auth/password/reset/confirm/", limited(handleResetConfirm(svc, log)))
	post(mux, "/auth/social/{backend}/", limited(handleSocial(svc, log)))
	get(mux, "/.well-known/jwks.json", handleJWKS(svc))
	get(mux, "/livez", handleLive())
	get(mux, "/readyz", handleReady(svc, log, checks))
	get(mux, "/healthz", handleHealth(svc, log, checks, version))
	mux.Handle("/", http.HandlerFunc(notFound))
}
