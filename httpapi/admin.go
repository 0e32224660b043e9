package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	auth "github.com/authd/authd"
)

// AdminOptions configure the admin listener's handler.
type AdminOptions struct {
	Log *slog.Logger
	// Token is the bearer token every request must carry (AUTH_ADMIN_TOKEN). Empty refuses
	// every request.
	Token          string
	TrustedProxies []netip.Prefix
	// Metrics, when set, is served at GET /metrics, behind the same token.
	Metrics http.Handler
	// Requests, when set, is told of every request: its route (the pattern it matched, as
	// routes.go lists it), status and time taken.
	Requests func(route string, status int, elapsed time.Duration)
}

// NewAdminHandler returns the admin API's handler (see addAdminRoutes), for a listener of its
// own: never the public one.
func NewAdminHandler(svc *auth.Service, o AdminOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addAdminRoutes(mux, svc, o.Log, o.Metrics)
	h := requireToken(o.Token, o.Log, instrument(o.Requests, refuseUncleanPaths(mux)))
	h = secureHeaders(h)
	h = recoverPanics(o.Log, h)
	return logRequests(o.Log, o.TrustedProxies, h)
}

const msgInvalidAdminToken = "Invalid token."

// requireToken serves only requests carrying "Authorization: Bearer <token>". The tokens are
// compared by their SHA-256 digests in constant time, so neither the time taken nor an early
// exit on length tells how much of a guess was right. A refusal is logged with the client's
// address, never with what it sent.
func requireToken(token string, log *slog.Logger, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := bearerToken(r)
		got := sha256.Sum256([]byte(given))
		if ok && token != "" && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		reason, body := "wrong token", map[string]any{"detail": msgInvalidAdminToken}
		if !ok {
			reason, body = "no bearer token", notAuthenticated
		}
		log.Warn("admin request refused", "reason", reason, "client_ip", clientIP(r.Context()),
			"request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
		writeJSON(w, http.StatusUnauthorized, body)
	})
}

// AdminUser is an account as the admin API and `authd users -json` show it: the profile of GET
// /auth/me/ with is_active and last_login.
type AdminUser struct {
	profileBody
	IsActive  bool    `json:"is_active"`
	LastLogin *string `json:"last_login"`
}

// AdminUserOf is the admin API's view of an account.
func AdminUserOf(r auth.UserRecord) AdminUser {
	return AdminUser{profileBody: profileOf(r.Profile), IsActive: r.Active, LastLogin: optionalTimestamp(r.LastLogin)}
}

type userPage struct {
	Results []AdminUser `json:"results"`
	Next    *string     `json:"next"`
}

func handleAdminUsers(svc *auth.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err := svc.AdminListUsers(r.Context(), auth.UserListRequest{Search: q.Get("search"), Limit: q.Get("limit"), Cursor: q.Get("cursor")})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		body := userPage{Results: make([]AdminUser, len(page.Users))}
		for i, u := range page.Users {
			body.Results[i] = AdminUserOf(u)
		}
		if page.Next != "" {
			body.Next = &page.Next
		}
		writeJSON(w, http.StatusOK, body)
	})
}

func handleAdminCreateUser(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, registrationFields, func(r *http.Request, in input) (int, any, error) {
		u, err := svc.AdminCreateUser(r.Context(), registrationOf(in), in.errs)
		return http.StatusCreated, AdminUserOf(u), err
	})
}

func handleAdminUser(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{}, func(r *http.Request, _ input) (int, any, error) {
		u, err := svc.AdminUser(r.Context(), r.PathValue("id"))
		return http.StatusOK, AdminUserOf(u), err
	})
}

func handleAdminUpdateUser(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{
		{name: "first_name"},
		{name: "last_name"},
		{name: "address", nullBlank: true},
		{name: "phone_no"},
		{name: "email"},
		{name: "is_active", boolean: true},
		{name: "email_verified", boolean: true},
	}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		// The id first: an unknown account is 404 whatever the body says.
		if _, err := svc.AdminUserQuiet(r.Context(), r.PathValue("id")); err != nil {
			return 0, nil, err
		}
		c := auth.AdminChange{FirstName: in.ptr("first_name"), LastName: in.ptr("last_name"), Phone: in.ptr("phone_no"),
			Email: in.ptr("email"), Active: boolPtr(in, "is_active"), EmailVerified: boolPtr(in, "email_verified")}
		if in.sent["address"] && in.errs["address"] == nil {
			address := in.str("address") // null and "" clear it
			c.Address = &address
		}
		u, err := svc.AdminUpdateUser(r.Context(), r.PathValue("id"), c, in.errs)
		return http.StatusOK, AdminUserOf(u), err
	})
}

func boolPtr(in input, name string) *bool {
	if !in.present[name] {
		return nil
	}
	b := in.str(name) == "true"
	return &b
}

func handleAdminDeleteUser(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{}, func(r *http.Request, _ input) (int, any, error) {
		return http.StatusOK, empty, svc.AdminDeleteUser(r.Context(), r.PathValue("id"))
	})
}

func handleAdminSignOut(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{}, func(r *http.Request, _ input) (int, any, error) {
		return http.StatusOK, empty, svc.AdminSignOut(r.Context(), r.PathValue("id"))
	})
}

func handleAdminUnlock(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{}, func(r *http.Request, _ input) (int, any, error) {
		return http.StatusOK, empty, svc.AdminUnlock(r.Context(), r.PathValue("id"))
	})
}

// AuditEventBody is an audit event as GET /admin/audit and `authd audit -json` show it.
type AuditEventBody struct {
	ID        string            `json:"id"`
	Time      string            `json:"time"`
	Event     string            `json:"event"`
	UserID    *string           `json:"user_id"`
	SID       *string           `json:"sid"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	RequestID string            `json:"request_id"`
	Detail    map[string]string `json:"detail"`
}

// AuditEventOf is the admin API's view of an audit event.
func AuditEventOf(ev auth.AuditEvent) AuditEventBody {
	optional := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	detail := ev.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	return AuditEventBody{ID: ev.ID, Time: timestamp(ev.Time), Event: ev.Event, UserID: optional(ev.UserID),
		SID: optional(ev.SessionID), IP: ev.IP, UserAgent: ev.UserAgent, RequestID: ev.RequestID, Detail: detail}
}

// AuditPageBody is a page of the audit log: {"results": [...], "next": "<cursor>"|null}.
type AuditPageBody struct {
	Results []AuditEventBody `json:"results"`
	Next    *string          `json:"next"`
}

// AuditPageOf is the admin API's view of a page of the audit log.
func AuditPageOf(page auth.AuditPage) AuditPageBody {
	body := AuditPageBody{Results: make([]AuditEventBody, len(page.Events))}
	for i, ev := range page.Events {
		body.Results[i] = AuditEventOf(ev)
	}
	if page.Next != "" {
		body.Next = &page.Next
	}
	return body
}

func handleAdminAudit(svc *auth.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err := svc.AdminAudit(r.Context(), auth.AuditListRequest{User: q.Get("user"), Event: q.Get("event"),
			Since: q.Get("since"), Limit: q.Get("limit"), Cursor: q.Get("cursor")})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, AuditPageOf(page))
	})
}
