package auth

import (
	"encoding/base32"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// The library's arithmetic, checked against RFC 6238's own test vectors (appendix B, SHA-1):
// the code at a time is HOTP at step floor(t/30), as matchTOTP computes it.
func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		got, err := hotp.GenerateCodeCustom(secret, uint64(v.unix/totpPeriod), hotp.ValidateOpts{Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
		if err != nil || got != v.code {
			t.Errorf("T=%d: %q %v, want %q", v.unix, got, err, v.code)
		}
	}
}

// A code is accepted from the step before the current one to the step after, only if newer
// than the last used step.
func TestTOTPWindow(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Service{now: func() time.Time { return now }, keyring: &keyring{}}
	secret := []byte("0123456789abcdefghij")
	encoded := base32NoPadding.EncodeToString(secret)
	codeAt := func(step int64) string {
		c, err := hotp.GenerateCodeCustom(encoded, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := now.Unix() / totpPeriod
	for offset, accepted := range map[int64]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		step, ok, err := s.matchTOTP(TOTP{UserID: "u", Secret: secret}, codeAt(cur+offset))
		if err != nil || ok != accepted || (ok && step != cur+offset) {
			t.Errorf("offset %d: step %d ok %v err %v, want ok %v", offset, step, ok, err, accepted)
		}
	}
	if _, ok, _ := s.matchTOTP(TOTP{UserID: "u", Secret: secret, LastStep: cur}, codeAt(cur)); ok {
		t.Error("the code of a step already used was accepted")
	}
	if _, ok, _ := s.matchTOTP(TOTP{UserID: "u", Secret: secret, LastStep: cur}, codeAt(cur+1)); !ok {
		t.Error("the next step's code was refused after the current one was used")
	}
}
