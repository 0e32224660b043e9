package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	auth "github.com/authd/authd"
)

// addRoutes is authd's whole HTTP surface. Every path answers with and without its trailing
// slash; limited marks the endpoints that count against the per-address limit: the credential
// endpoints, and the email verification ones, which take codes as the reset endpoints do. The
// signed-in endpoints that judge a password count it against the email's failed sign-ins.
func addRoutes(mux *http.ServeMux, svc *auth.Service, log *slog.Logger, checks map[string]func(context.Context) error, version string, limited func(http.Handler) http.Handler) {
	post(mux, "/auth/register/", limited(handleRegister(svc, log)))
	post(mux, "/auth/token/", limited(handleToken(svc, log)))
	post(mux, "/auth/token/mfa/", limited(handleTokenMFA(svc, log)))
	post(mux, "/auth/token/refresh/", handleRefresh(svc, log))
	post(mux, "/auth/token/verify/", handleVerify(svc, log))
	post(mux, "/auth/logout/", handleLogout(svc, log))
	post(mux, "/auth/password/reset/", limited(handleResetRequest(svc, log)))
	post(mux, "/auth/password/reset/verify/", limited(handleResetVerify(svc, log)))
	post(mux, "/auth/password/reset/confirm/", limited(handleResetConfirm(svc, log)))
	post(mux, "/auth/social/{backend}/", limited(handleSocial(svc, log)))
	serve(mux, "/auth/me/", methods{"GET": handleMe(svc, log), "PATCH": handleMeUpdate(svc, log), "DELETE": handleMeDelete(svc, log)})
	post(mux, "/auth/password/change/", handlePasswordChange(svc, log))
	get(mux, "/auth/sessions/", handleSessions(svc, log))
	serve(mux, "/auth/sessions/{id}/", methods{"DELETE": handleSessionEnd(svc, log)})
	post(mux, "/auth/logout/all/", handleLogoutAll(svc, log))
	post(mux, "/auth/email/verify/", limited(handleEmailVerify(svc, log)))
	post(mux, "/auth/email/verify/resend/", limited(handleEmailVerifyResend(svc, log)))
	post(mux, "/auth/email/change/", handleEmailChange(svc, log))
	post(mux, "/auth/email/change/confirm/", handleEmailChangeConfirm(svc, log))
	serve(mux, "/auth/mfa/totp/", methods{"POST": handleTOTPStart(svc, log), "DELETE": handleTOTPDisable(svc, log)})
	post(mux, "/auth/mfa/totp/confirm/", handleTOTPConfirm(svc, log))
	post(mux, "/auth/mfa/recovery-codes/", handleRecoveryCodes(svc, log))
	get(mux, "/.well-known/jwks.json", handleJWKS(svc))
	get(mux, "/livez", handleLive())
	get(mux, "/readyz", handleReady(svc, log, checks))
	get(mux, "/healthz", handleHealth(svc, log, checks, version))
	get(mux, "/openapi.json", handleOpenAPI())
	get(mux, "/docs", handleDocs())
	get(mux, "/docs/redoc.standalone.js", handleDocsScript())
	mux.Handle("/", http.HandlerFunc(notFound))
}

// addAdminRoutes is the admin listener's surface (NewAdminHandler), every request of which
// carries the admin token. metrics, when not nil, is GET /metrics.
func addAdminRoutes(mux *http.ServeMux, svc *auth.Service, log *slog.Logger, metrics http.Handler) {
	serve(mux, "/admin/users/", methods{"GET": handleAdminUsers(svc, log), "POST": handleAdminCreateUser(svc, log)})
	serve(mux, "/admin/users/{id}/", methods{"GET": handleAdminUser(svc, log), "PATCH": handleAdminUpdateUser(svc, log), "DELETE": handleAdminDeleteUser(svc, log)})
	post(mux, "/admin/users/{id}/signout/", handleAdminSignOut(svc, log))
	post(mux, "/admin/users/{id}/unlock/", handleAdminUnlock(svc, log))
	get(mux, "/admin/audit/", handleAdminAudit(svc, log))
	if metrics != nil {
		get(mux, "/metrics", metrics)
	}
	mux.Handle("/", http.HandlerFunc(notFound))
}
