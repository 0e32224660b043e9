package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

// The answers simplejwt's JWTAuthentication gave a request that is not signed in.
const (
	msgNotAuthenticated = "Authentication credentials were not provided."
	msgBadHeader        = "Authorization header must contain two space-delimited values"
	msgNoTokenType      = "Given token not valid for any token type"
)

// notSignedIn is the 401 of a signed-in endpoint, with WWW-Authenticate as simplejwt sent it.
func notSignedIn(w http.ResponseWriter, body map[string]any) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	writeJSON(w, http.StatusUnauthorized, body)
}

var (
	notAuthenticated = map[string]any{"detail": msgNotAuthenticated}
	badHeader        = map[string]any{"detail": msgBadHeader, "code": "bad_authorization_header"}
	tokenNotValid    = map[string]any{"detail": msgNoTokenType, "code": "token_not_valid", "messages": []map[string]string{
		{"token_class": "AccessToken", "token_type": "access", "message": msgToken}}}
)

// signedIn serves a request that must carry an access token (Authorization: Bearer), checked
// before the body is read, as simplejwt did: fn runs with the caller it speaks for. A nil fields
// reads no body (GET). A token that stops being valid during the request (the account went) is
// the same 401 as one refused at the door.
func signedIn(svc *auth.Service, log *slog.Logger, fields []field, fn func(r *http.Request, in input, c auth.Caller) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		var parts []string
		if len(values) == 1 {
			parts = splitHTTPSpace(values[0])
		}
		switch {
		case len(values) == 0 || (len(values) == 1 && (len(parts) == 0 || !strings.EqualFold(parts[0], "Bearer"))):
			notSignedIn(w, notAuthenticated)
			return
		case len(values) > 1 || len(parts) != 2:
			notSignedIn(w, badHeader)
			return
		}
		caller, err := svc.Authenticate(r.Context(), parts[1])
		if err != nil {
			if errors.Is(err, auth.ErrTokenInvalid) {
				notSignedIn(w, tokenNotValid)
			} else {
				writeError(w, r, log, err)
			}
			return
		}
		// The security events of the request are recorded with the sign-in it comes from.
		client := auth.ClientFrom(r.Context())
		client.SessionID = caller.SessionID
		r = r.WithContext(auth.WithClient(r.Context(), client))
		in := input{values: map[string]string{}, present: map[string]bool{}, sent: map[string]bool{}, errs: auth.ValidationError{}}
		if fields != nil {
			if in, err = decode(w, r, fields); err != nil {
				writeError(w, r, log, err)
				return
			}
		}
		status, body, err := fn(r, in, caller)
		switch {
		case errors.Is(err, auth.ErrTokenInvalid):
			notSignedIn(w, tokenNotValid)
		case err != nil:
			writeError(w, r, log, err)
		default:
			writeJSON(w, status, body)
		}
	})
}

// splitHTTPSpace splits a header value on HTTP's own white space (RFC 9110: spaces and tabs),
// as a proxy or another verifier reads it; strings.Fields would also split on U+00A0 and the like.
func splitHTTPSpace(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' })
}

// timestamp is a time as the contract writes it: ISO 8601 in UTC, with microseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func optionalTimestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}

type mfaStatus struct {
	TOTP              bool `json:"totp"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

// profileBody is GET /auth/me/'s answer.
type profileBody struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	FirstName     string    `json:"first_name"`
	LastName      string    `json:"last_name"`
	Address       string    `json:"address"`
	PhoneNo       *string   `json:"phone_no"`
	EmailVerified bool      `json:"email_verified"`
	DateJoined    string    `json:"date_joined"`
	HasPassword   bool      `json:"has_password"`
	Social        []string  `json:"social"`
	MFA           mfaStatus `json:"mfa"`
}

func profileOf(p auth.Profile) profileBody {
	b := profileBody{ID: p.ID, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, Address: p.Address,
		EmailVerified: p.EmailVerified, DateJoined: timestamp(p.DateJoined), HasPassword: p.PasswordHash != "", Social: p.Social,
		MFA: mfaStatus{TOTP: p.TOTPEnabled, RecoveryCodesLeft: p.RecoveryCodesLeft}}
	if p.Phone != "" {
		b.PhoneNo = &p.Phone
	}
	if b.Social == nil {
		b.Social = []string{}
	}
	return b
}

func handleMe(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, nil, func(r *http.Request, _ input, c auth.Caller) (int, any, error) {
		p, err := svc.Profile(r.Context(), c)
		return http.StatusOK, profileOf(p), err
	})
}

func handleMeUpdate(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{
		{name: "first_name"},
		{name: "last_name"},
		{name: "address", nullBlank: true},
		{name: "phone_no"},
		{name: "email", nullBlank: true}, // refused whatever its value
	}
	return signedIn(svc, log, fields, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		delete(in.errs, "email")
		update := auth.ProfileUpdate{FirstName: in.ptr("first_name"), LastName: in.ptr("last_name"), Phone: in.ptr("phone_no")}
		if in.sent["address"] && in.errs["address"] == nil {
			address := in.str("address") // null and "" clear it
			update.Address = &address
		}
		p, err := svc.UpdateProfile(r.Context(), c, update, in.sent["email"], in.errs)
		return http.StatusOK, profileOf(p), err
	})
}

func handleMeDelete(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "password", raw: true}}
	return signedIn(svc, log, fields, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		if err := svc.DeleteAccount(r.Context(), c, in.ptr("password"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{"Account deleted"}, nil
	})
}

// passwordChanged is the answer to a password change: the new sign-in's pair.
type passwordChanged struct {
	Detail string `json:"detail"`
	auth.TokenPair
}

func handlePasswordChange(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "old_password", raw: true}, {name: "new_password", required: true, raw: true}}
	return signedIn(svc, log, fields, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		pair, err := svc.ChangePassword(r.Context(), c, in.ptr("old_password"), in.str("new_password"), in.errs)
		return http.StatusOK, passwordChanged{"Password has been changed", pair}, err
	})
}

// sessionBody is one entry of GET /auth/sessions/.
type sessionBody struct {
	ID         string   `json:"id"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at"`
	ExpiresAt  string   `json:"expires_at"`
	IP         string   `json:"ip"`
	UserAgent  string   `json:"user_agent"`
	AMR        []string `json:"amr"`
	Current    bool     `json:"current"`
}

func handleSessions(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, nil, func(r *http.Request, _ input, c auth.Caller) (int, any, error) {
		list, err := svc.Sessions(r.Context(), c)
		out := make([]sessionBody, len(list))
		for i, s := range list {
			amr := s.AMR
			if amr == nil {
				amr = []string{}
			}
			out[i] = sessionBody{ID: s.ID, CreatedAt: timestamp(s.CreatedAt), LastUsedAt: optionalTimestamp(s.LastUsedAt),
				ExpiresAt: timestamp(s.ExpiresAt), IP: s.IP, UserAgent: s.UserAgent, AMR: amr, Current: s.Current}
		}
		return http.StatusOK, out, err
	})
}

func handleSessionEnd(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{}, func(r *http.Request, _ input, c auth.Caller) (int, any, error) {
		return http.StatusOK, empty, svc.EndSession(r.Context(), c, r.PathValue("id"))
	})
}

func handleLogoutAll(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{}, func(r *http.Request, _ input, c auth.Caller) (int, any, error) {
		return http.StatusOK, empty, svc.LogoutAll(r.Context(), c)
	})
}

var otpField = field{name: "otp", required: true}

func handleEmailVerify(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{emailField, otpField}, func(r *http.Request, in input) (int, any, error) {
		if err := svc.VerifyEmail(r.Context(), in.str("email"), in.str("otp"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{"Email verified"}, nil
	})
}

const msgVerificationSent = "A verification email was sent"

func handleEmailVerifyResend(svc *auth.Service, log *slog.Logger) http.Handler {
	return handle(log, []field{emailField}, func(r *http.Request, in input) (int, any, error) {
		if err := svc.ResendVerification(r.Context(), in.str("email"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{msgVerificationSent}, nil
	})
}

func handleEmailChange(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{emailField, {name: "password", raw: true}}
	return signedIn(svc, log, fields, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		if err := svc.RequestEmailChange(r.Context(), c, in.str("email"), in.ptr("password"), in.errs); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, message{msgVerificationSent}, nil
	})
}

func handleEmailChangeConfirm(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{otpField}, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		p, err := svc.ConfirmEmailChange(r.Context(), c, in.str("otp"), in.errs)
		return http.StatusOK, profileOf(p), err
	})
}
