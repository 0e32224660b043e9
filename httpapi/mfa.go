package httpapi

import (
	"log/slog"
	"net/http"

	auth "github.com/authd/authd"
)

func handleTokenMFA(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "mfa_token", required: true}, otpField}
	return handle(log, fields, func(r *http.Request, in input) (int, any, error) {
		pair, err := svc.FinishMFA(r.Context(), in.str("mfa_token"), in.str("otp"), in.errs)
		return http.StatusOK, pair, err
	})
}

type enrolmentBody struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
}

func handleTOTPStart(svc *auth.Service, log *slog.Logger) http.Handler {
	fields := []field{{name: "password", raw: true}}
	return signedIn(svc, log, fields, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		e, err := svc.StartTOTP(r.Context(), c, in.ptr("password"), in.errs)
		return http.StatusOK, enrolmentBody{e.Secret, e.OTPAuthURL}, err
	})
}

type recoveryCodesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func handleTOTPConfirm(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{otpField}, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		codes, err := svc.ConfirmTOTP(r.Context(), c, in.str("otp"), in.errs)
		return http.StatusOK, recoveryCodesBody{codes}, err
	})
}

func handleTOTPDisable(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{otpField}, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		return http.StatusOK, empty, svc.DisableTOTP(r.Context(), c, in.str("otp"), in.errs)
	})
}

func handleRecoveryCodes(svc *auth.Service, log *slog.Logger) http.Handler {
	return signedIn(svc, log, []field{otpField}, func(r *http.Request, in input, c auth.Caller) (int, any, error) {
		codes, err := svc.RenewRecoveryCodes(r.Context(), c, in.str("otp"), in.errs)
		return http.StatusOK, recoveryCodesBody{codes}, err
	})
}
