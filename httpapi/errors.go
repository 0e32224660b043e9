package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	auth "github.com/authd/authd"
)

// Response bodies of the contract.
const (
	msgCredentials = "No active account found with the given credentials"
	msgToken       = "Token is invalid or expired"
	msgNotFound    = "Not found."
	msgBusy        = "Service temporarily unavailable, try again later."
	msgServerError = "A server error occurred."

	msgEmailNotVerified = "Email address is not verified."
	msgMFARequired      = "Two-factor authentication code required."
	msgMFAEnabled       = "Two-factor authentication is already enabled."
	msgMFANotEnabled    = "Two-factor authentication is not enabled."

	msgSocialRejected   = "Invalid Google credentials"
	msgSocialDown       = "Google could not be reached. Try again later."
	msgSocialNoEmail    = "The Google account shares no email address."
	msgSocialUnverified = "An account with this email already exists, and Google has not verified that the email is yours. Sign in with your password instead."
)

// writeError is the one place an error becomes a response. Domain errors get the contract's
// status and body; anything else is logged and answered with the generic 500, its text never
// leaving the server.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		mfaRequired *auth.MFARequiredError
		validation  auth.ValidationError
		throttled   *auth.ThrottledError
		request     *requestError
	)
	switch {
	case errors.As(err, &validation):
		writeJSON(w, http.StatusBadRequest, validation)
	case errors.As(err, &request):
		writeJSON(w, request.status, request.body)
	case errors.Is(err, auth.ErrInvalidCredentials):
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": msgCredentials})
	case errors.Is(err, auth.ErrTokenInvalid):
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": msgToken, "code": "token_not_valid"})
	case errors.As(err, &mfaRequired):
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": msgMFARequired, "code": "mfa_required", "mfa_token": mfaRequired.Token})
	case errors.Is(err, auth.ErrMFAEnabled):
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": msgMFAEnabled})
	case errors.Is(err, auth.ErrMFANotEnabled):
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": msgMFANotEnabled})
	case errors.Is(err, auth.ErrEmailNotVerified):
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": msgEmailNotVerified, "code": "email_not_verified"})
	case errors.Is(err, auth.ErrSocialRejected):
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": msgSocialRejected})
	case errors.Is(err, auth.ErrSocialNoEmail):
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": msgSocialNoEmail})
	case errors.Is(err, auth.ErrSocialUnverifiedEmail):
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": msgSocialUnverified})
	case errors.Is(err, auth.ErrSocialUnavailable):
		log.Warn("social provider unavailable", "request_id", requestID(r.Context()), "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"detail": msgSocialDown})
	case errors.Is(err, auth.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": msgNotFound})
	case errors.As(err, &throttled):
		writeThrottled(w, throttled.RetryAfter.Seconds())
	case errors.Is(err, auth.ErrBusy), errors.Is(err, auth.ErrUnavailable):
		log.Warn("request shed", "request_id", requestID(r.Context()), "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": msgBusy})
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": msgBusy})
	default:
		log.Error("request failed", "request_id", requestID(r.Context()), "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": msgServerError})
	}
}

// writeThrottled answers 429 in Django REST framework's words, with Retry-After.
func writeThrottled(w http.ResponseWriter, seconds float64) {
	wait := max(1, int(math.Ceil(seconds)))
	unit := "seconds"
	if wait == 1 {
		unit = "second"
	}
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{
		"detail": "Request was throttled. Expected available in " + strconv.Itoa(wait) + " " + unit + ".",
	})
}
