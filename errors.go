package auth

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Domain failures. The HTTP layer maps each one to the contract's status and body in a single
// table (httpapi/errors.go); anything else is an internal error and is never shown to a client.
var (
	// ErrInvalidCredentials is a failed sign-in, whatever the reason (unknown email, wrong
	// password or phone, inactive account, no usable password): the caller cannot tell which.
	ErrInvalidCredentials = errors.New("no active account found with the given credentials")
	// ErrTokenInvalid is any token that must not be honoured: bad signature, expired, wrong type,
	// revoked, used up, or whose user is gone or inactive.
	ErrTokenInvalid = errors.New("token is invalid or expired")
	// ErrNotFound is a record that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy means the service is at capacity (every password-hashing slot is taken).
	ErrBusy = errors.New("service busy")
	// ErrConflict is a lost race on a conditional write; the caller re-reads and decides again.
	ErrConflict = errors.New("conflicting update")
	// ErrEmailTaken is a store's report that another account has the email (by its key).
	ErrEmailTaken = errors.New("email taken")
	// ErrPhoneTaken is a store's report that another account has the phone number.
	ErrPhoneTaken = errors.New("phone taken")
	// ErrUnavailable means a dependency (the database) cannot be reached right now.
	ErrUnavailable = errors.New("dependency unavailable")
)

// Exact messages of the contract, kept in one place so docs, code and tests agree.
const (
	MsgRequired        = "This field is required."
	MsgBlank           = "This field may not be blank."
	MsgNull            = "This field may not be null."
	MsgNotString       = "Not a valid string."
	MsgInvalidEmail    = "Enter a valid email address."
	MsgInvalidPhone    = "Enter a valid phone number."
	MsgEmailTaken      = "user with this email already exists."
	MsgPhoneTaken      = "user with this phone no already exists."
	MsgInvalidCode     = "Invalid or expired OTP."
	MsgTooSimilarFirst = "The password is too similar to the first name."
	MsgTooSimilarLast  = "The password is too similar to the last name."
	MsgTooSimilarEmail = "The password is too similar to the email."
	MsgTooCommon       = "This password is too common."
	MsgEntirelyNumeric = "This password is entirely numeric."
	// MsgNullCharacter refuses a U+0000 in any text field (Django REST framework's message).
	MsgNullCharacter = "Null characters are not allowed."
	// MsgIncorrectPassword refuses a wrong current password where a signed-in request asks for it.
	MsgIncorrectPassword = "Incorrect password."
	// MsgOldPasswordIncorrect is Django's PasswordChangeForm message for a wrong old password.
	MsgOldPasswordIncorrect = "Your old password was entered incorrectly. Please enter it again."
	MsgUseEmailChange       = "Use /auth/email/change/ to change the email address."
	// MsgNothingToUpdate refuses a profile update that names none of the fields it can change.
	MsgNothingToUpdate = "Send at least one of first_name, last_name, address, phone_no."
	// MsgControlCharacters refuses a name holding a control character (see HasControlCharacters).
	MsgControlCharacters = "This field may not contain control characters."
)

// SurrogateNotAllowed is Django REST framework's message for a text field holding a UTF-16
// surrogate code point, which no valid UTF-8 text can hold (a lone "\ud800" escape in JSON).
func SurrogateNotAllowed(r rune) string {
	return fmt.Sprintf("Surrogate characters are not allowed: U+%X.", r)
}

// ThrottledError is a request refused by a rate limit; RetryAfter says when to try again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return "request was throttled" }

// ValidationError maps field names to the messages that reject them, in the contract's shape:
// {"email": ["This field is required."]}.
type ValidationError map[string][]string

func (e ValidationError) Error() string {
	fields := make([]string, 0, len(e))
	for f := range e {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	return "invalid fields: " + strings.Join(fields, ", ")
}

// Add appends msg to the messages of field.
func (e ValidationError) Add(field, msg string) { e[field] = append(e[field], msg) }

// Err returns e as an error, or nil when it holds no message.
func (e ValidationError) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
