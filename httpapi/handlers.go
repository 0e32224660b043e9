package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

// post serves h at path with and without its trailing slash, for POST only.
func post(mux *http.ServeMux, path string, h http.Handler) { serve(mux, path, methods{"POST": h}) }

// get serves h at path with and without its trailing slash, for GET and HEAD.
func get(mux *http.ServeMux, path string, h http.Handler) { serve(mux, path, methods{"GET": h}) }

// methods are the handlers of one path by method; GET serves HEAD too.
type methods map[string]http.Handler

// serve serves each method's handler at path, with and without its trailing slash; any other
// method is 405 with the Allow header, and OPTIONS answers it.
func serve(mux *http.ServeMux, path string, hs methods) {
	var allowed []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		if hs[m] != nil || (m == "HEAD" && hs["GET"] != nil) {
			allowed = append(allowed, m)
		}
	}
	allow := strings.Join(append(allowed, "OPTIONS"), ", ")
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == "HEAD" {
			method = "GET"
		}
		switch h := hs[method]; {
		case h != nil:
			h.ServeHTTP(w, r)
		case r.Method == "OPTIONS":
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusOK, struct{}{})
		default:
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": `Method "` + r.Method + `" not allowed.`})
		}
	})
	trimmed := strings.TrimSuffix(path, "/")
	mux.Handle(trimmed+"/{$}", endpoint)
	mux.Handle(trimmed, endpoint)
}

// refuseUncleanPaths answers a path with an empty, "." or ".." segment (/auth//token/) 404 in
// JSON, as any unknown path: ServeMux would redirect it to its clean form, and the contract has
// no redirects (a 307 on a POST is a trap for clients) and no answer that is not JSON.
func refuseUncleanPaths(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if clean := path.Clean(p); clean != strings.TrimSuffix(p, "/") && clean != p {
			notFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": msgNotFound})
}

// handle decodes the body's fields, runs fn and writes its answer or error. fn sees the
// transport's field problems in in.errs: it ends the request on them, or passes them to the
// flow, which reports them with its own rules' findings in one answer.
func handle(log *slog.Logger, fields []field, fn func(r *http.Request, in input) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode(w, r, fields)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		status, body, err := fn(r, in)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, status, body)
	})
}

type message struct {
	Detail string `json:"detail"`
}

var empty = struct{}{}

// registrationFields are the body of POST /auth/register/, and of the admin API's POST /admin/users.
var registrationFields = []field{
	{name: "first_name", required: true},
	{name: "last_name", required: true},
	{name: "address", nullBlank: true},
	{name: "email", required: true},
	{name: "phone_no", required: true},
	{name: "password", raw: true},
}

func registrationOf(in input) auth.Registration {
	return auth.Registration{FirstName: in.str("first_name"), LastName: in.str("last_name"), Address: in.str("address"),
		Email: in.str("email"), Phone: in.str("phone_no"), Password: in.ptr("password")}
}

func handleRegister(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, registrationFields, func(r *http.Request, in input) (int, any, error) {
		if err := svc.Register(r.Context(), registrationOf(in), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, message{"User created successfully"}, nil
	})
}

func handleToken(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{
		{name: "email", required: true},
		{name: "password", required: true, raw: true},
		{name: "phone_number"},
		{name: "otp"},
	}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		pair, err := svc.Login(r.Context(), in.str("email"), in.str("password"), in.ptr("phone_number"), in.ptr("otp"), in.errs)
		return http.StatusOK, pair, err
	})
}

func handleRefresh(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "refresh_token", alias: "refresh", required: true}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		if err := in.errs.Err(); err != nil {
			return 0, nil, err
		}
		pair, err := svc.Refresh(r.Context(), in.str("refresh_token"))
		return http.StatusOK, pair, err
	})
}

func handleVerify(svc *auth.Service, log *slog.Logger) http.Handler {
	// Not required of the body: a body without it may leave the token to the Authorization header.
	fields := []field{{name: "access_token", alias: "token"}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		token := in.str("access_token")
		if !in.present["access_token"] && in.errs["access_token"] == nil {
			var ok bool
			if token, ok = bearerToken(r); !ok {
				in.errs.Add("access_token", auth.MsgRequired)
			}
		}
		if err := in.errs.Err(); err != nil {
			return 0, nil, err
		}
		// The service bounds the token (auth.MaxTokenLength) before parsing it, wherever it came from.
		return http.StatusOK, empty, svc.Verify(r.Context(), token)
	})
}

// bearerToken returns the token of a request's "Authorization: Bearer <token>" header (the
// scheme in any case, as RFC 7235 has it), and false when there is no usable one: no header or
// more than one, another scheme, "Bearer" alone, or more than two space-delimited values.
func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	parts := splitHTTPSpace(values[0])
	if len(parts) != 2 || !strings.EqualFold(parts[0], "Bearer") {
		return "", false
	}
	return parts[1], true
}

func handleLogout(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "refresh_token", alias: "refresh", required: true}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		if err := in.errs.Err(); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, empty, svc.Logout(r.Context(), in.str("refresh_token"))
	})
}

var emailField = field{name: "email", required: true}

func handleResetRequest(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{emailField}, func(r *http.Request, in input) (int, any, error) {
		if err := svc.RequestReset(r.Context(), in.str("email"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{"An OTP email was sent to the user"}, nil
	})
}

func handleResetVerify(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{emailField, {name: "otp", required: true}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		if err := svc.VerifyResetCode(r.Context(), in.str("email"), in.str("otp"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{"OTP is valid"}, nil
	})
}

func handleResetConfirm(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{emailField, {name: "otp", required: true}, {name: "password", required: true, raw: true}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		if err := svc.ConfirmReset(r.Context(), in.str("email"), in.str("otp"), in.str("password"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{"Password has been reset"}, nil
	})
}

// socialCreated is the answer to a first social sign-in, which made the account.
type socialCreated struct {
	Detail string `json:"detail"`
	auth.TokenPair
}

func handleSocial(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "access_code", required: true}, {name: "otp"}}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		backend := r.PathValue("backend")
		if !svc.HasProvider(backend) {
			return 0, nil, auth.ErrNotFound // before the body is judged: the path does not exist
		}
		if err := in.errs.Err(); err != nil {
			return 0, nil, err
		}
		pair, created, err := svc.SignInWithProvider(r.Context(), backend, in.str("access_code"), in.ptr("otp"))
		switch {
		case err != nil:
			return 0, nil, err
		case created:
			return http.StatusCreated, socialCreated{"User created successfully!", pair}, nil
		}
		return http.StatusOK, pair, nil
	})
}

func handleJWKS(svc *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verifiers may cache the keys briefly; a rotated key is published before it signs.
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Del("Pragma")
		writeJSON(w, http.StatusOK, map[string]any{"keys": svc.JWKS()})
	})
}

// handleLive answers whenever the process does, touching no dependency: a failing database is
// for readiness to report, and restarting the process would not mend it.
func handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReady answers the dependency report: 503 when the database does not answer.
func handleReady(svc *auth.Service, log *slog.Logger, checks map[string]func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, report := readiness(r.Context(), svc, log, checks)
		writeJSON(w, status, report)
	})
}

// handleHealth answers the dependency report, as handleReady does, and the version serving it.
func handleHealth(svc *auth.Service, log *slog.Logger, checks map[string]func(context.Context) error, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, report := readiness(r.Context(), svc, log, checks)
		report["version"] = version
		writeJSON(w, status, report)
	})
}

// readiness asks the database and the optional checks, for at most 2 seconds in all, and
// returns the report and its status: the optional checks failing make it "degraded" (200), the
// database failing "unavailable" (503).
func readiness(ctx context.Context, svc *auth.Service, log *slog.Logger, checks map[string]func(context.Context) error) (int, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	report := map[string]string{"status": "ok", "database": "ok"}
	for name, check := range checks {
		report[name] = "ok"
		if err := check(ctx); err != nil {
			report[name], report["status"] = "unavailable", "degraded"
		}
	}
	if err := svc.Ping(ctx); err != nil {
		log.Error("health check: database unavailable", "err", err)
		report["database"], report["status"] = "unavailable", "unavailable"
		return http.StatusServiceUnavailable, report
	}
	return http.StatusOK, report
}
