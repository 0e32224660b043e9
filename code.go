package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"
)

// Code is a one-time code mailed to an address: 6 digits, of which only an HMAC is stored.
// UserID is empty for a request about an email that has no account (or, for a verification,
// one already verified): the row still counts towards the hourly cap, and no code can match it.
type Code struct {
	ID       string
	Purpose  string // CodeReset, CodeVerify or CodeEmailChange
	EmailKey string // the address it was mailed to, for the hourly cap
	UserID   string
	NewEmail string // the address an email change proves
	// ByRegistration marks the code registration mails unasked: the hourly cap counts the codes
	// people ask for, so that an address with an account and one without get the same answers.
	ByRegistration bool
	Hash           []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// What a code is for. Every purpose follows the same rules (CodeTTL, CodeAttempts,
// CodesPerHour); the newest code of a purpose replaces the older ones of the same owner.
const (
	CodeReset       = "reset"        // sets the password; also mailed at registration without one
	CodeVerify      = "verify"       // proves the account's email
	CodeEmailChange = "email_change" // proves the address an account moves to
)

// ByUser reports whether the code is found by its account rather than by the address it went
// to: an email change's code goes to an address no account has yet.
func (c Code) ByUser() bool { return c.Purpose == CodeEmailChange }

// CodeOwner names whose newest code of a purpose is meant: the one for an email key, or, for a
// purpose found by its user (Code.ByUser), the user's.
type CodeOwner struct {
	Purpose  string
	EmailKey string
	UserID   string
}

// errInvalidCode is the single answer to a wrong, expired, replaced, used or exhausted code, and
// to any code for an email without an account.
var errInvalidCode = ValidationError{"otp": {MsgInvalidCode}}

// checkCode counts an attempt against the owner's newest code, then compares in constant time.
func (s *Service) checkCode(ctx context.Context, owner CodeOwner, otp string) (Code, error) {
	code, err := s.store.ClaimCode(ctx, owner, s.now(), s.cfg.CodeAttempts)
	if errors.Is(err, ErrNotFound) {
		s.event(ctx, slog.LevelInfo, "code refused", owner.Purpose+"_code_failed", "email_key_hash", redact(owner.EmailKey), "user_id", owner.UserID)
		return code, errInvalidCode
	}
	if err != nil {
		return code, err
	}
	if code.UserID == "" || !hmac.Equal(code.Hash, s.codeHash(code.ID, otp)) {
		s.event(ctx, slog.LevelInfo, "code refused", owner.Purpose+"_code_failed", "user_id", code.UserID)
		return code, errInvalidCode
	}
	return code, nil
}

// refundCode gives back the attempt a correct code cost, when what it was for did not happen
// for a reason that is not the code's (a password the rules refuse, an address taken since).
func (s *Service) refundCode(ctx context.Context, code Code) {
	if err := s.store.RefundCodeAttempt(ctx, code.ID); err != nil {
		s.log.Error("refund code attempt", "err", err)
	}
}

// newCode draws six uniform digits from crypto/rand and returns the code's record (holding only
// their HMAC) and the digits, which go nowhere but the email.
func (s *Service) newCode(purpose, emailKey, userID string, now time.Time) (Code, string) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	digits := fmt.Sprintf("%06d", n.Int64())
	c := Code{ID: newID(), Purpose: purpose, EmailKey: emailKey, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL)}
	c.Hash = s.codeHash(c.ID, digits)
	return c, digits
}

// decoyCode is a code for a request that must look like any other (an unknown email, an address
// already verified): it counts towards the hourly cap and matches nothing.
func (s *Service) decoyCode(purpose, emailKey string, now time.Time) Code {
	c, _ := s.newCode(purpose, emailKey, "", now)
	c.Hash = randomBytes(sha256.Size)
	return c
}

func (s *Service) codeHash(codeID, digits string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte(codeID))
	m.Write([]byte{0})
	m.Write([]byte(digits))
	return m.Sum(nil)
}
