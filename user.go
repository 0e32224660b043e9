package auth

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"
)

// User is an account. PasswordHash is empty when the account has no usable password.
type User struct {
	ID            string
	FirstName     string
	LastName      string
	Address       string
	Email         string // as entered, domain lower-cased
	Phone         string // E.164, empty for accounts made by social sign-in
	EmailVerified bool
	Active        bool
	DateJoined    time.Time
	PasswordHash  string
	// PasswordChangedAt moves whenever a credential of the account is replaced or removed (a
	// reset, a password dropped by a Google link). A sign-in is stored only if it is still the
	// value its check read, so no sign-in that checked an old credential survives the change.
	PasswordChangedAt time.Time
	TOTPEnabled       bool // two-factor sign-in is on: a sign-in needs a code too
	// SessionsRevokedAt is when every sign-in of the account was last ended: the original
	// service's tokens issued before it are refused too.
	SessionsRevokedAt time.Time
}

// EmailKey is the case-insensitive form of an email address under which it is unique.
func EmailKey(email string) string { return strings.ToLower(email) }

// AccountChange is what a flow does to an account, decided by the domain and applied by the
// store in the transaction of the change that causes it (a reset, a Google link, a password or
// email change, signing out everywhere).
type AccountChange struct {
	UserID string
	At     time.Time
	// IfPasswordChangedAt, when set, is the user's PasswordChangedAt as the flow read it: the
	// change is made only while it is still so, and is ErrConflict otherwise (a password
	// changed twice at once from the same old password changes once).
	IfPasswordChangedAt *time.Time
	// SetPassword, when true, replaces the password hash with PasswordHash ("" removes it) and
	// moves PasswordChangedAt to At.
	SetPassword  bool
	PasswordHash string
	// SetEmail, when not empty, is the account's new address (a taken one is ErrEmailTaken).
	SetEmail           string
	VerifyEmail        bool
	DropUnprovenSocial bool // remove the identities linked without a vouched-for email
	RevokeSessions     bool // revoke every sign-in of the account
	CancelCodes        bool // use up every unused code of the account
	// StartSession, when set, is a sign-in stored after the rest of the change, with its first
	// refresh token, as CreateSession stores one (a password change hands out a new pair).
	StartSession *NewSession
	Mail         *Outgoing
	// Audit are the audit events that record the change, written in its transaction.
	Audit []AuditEvent
}

// NewSession is a sign-in to store and its first refresh token.
type NewSession struct {
	Session Session
	First   RefreshToken
}

// Registration is the data of POST /auth/register/. Password is nil when none was given: the
// account is then made with no usable password and a code is mailed to set one.
type Registration struct {
	FirstName string
	LastName  string
	Address   string
	Email     string
	Phone     string
	Password  *string
}

// HasControlCharacters reports whether s holds a control character (Unicode category Cc: C0
// and C1 controls and DEL, line breaks and tabs included) or a Unicode bidirectional control
// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) or Unicode's line and paragraph
// separators (U+2028, U+2029), none of which belongs in a name: they break the lines a name is
// shown on, or reorder and hide what a reader sees.
func HasControlCharacters(s string) bool { return strings.ContainsFunc(s, isControlCharacter) }

// isControlCharacter is the rune test of HasControlCharacters.
func isControlCharacter(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// dropControlCharacters returns s without the characters HasControlCharacters finds.
func dropControlCharacters(s string) string {
	return strings.Map(func(r rune) rune {
		if isControlCharacter(r) {
			return -1
		}
		return r
	}, s)
}

// hasControlsBesidesLineBreaks reports whether free text (an address) holds a Cc character
// other than a carriage return or line feed. Bidirectional controls are kept: text that mixes
// scripts needs them.
func hasControlsBesidesLineBreaks(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' })
}

// checkRegistration returns every problem with r, field by field, after those a transport found
// in the same request (found), including an email or phone that is already taken. It changes
// nothing.
func (s *Service) checkRegistration(ctx context.Context, r Registration, found ValidationError) (fieldCheck, error) {
	c := newFieldCheck(found)
	checkName(c, "first_name", r.FirstName)
	checkName(c, "last_name", r.LastName)
	checkAddress(c, r.Address)
	if c.text("email", r.Email, MaxEmailLength, true) {
		if err := s.checkNewEmail(ctx, c, r.Email); err != nil {
			return c, err
		}
	}
	if _, err := s.checkPhone(ctx, c, r.Phone, ""); err != nil {
		return c, err
	}
	if r.Password != nil && c.text("password", *r.Password, MaxPasswordLength, true) {
		for _, p := range passwordProblems(*r.Password, s.cfg.MinPasswordLength, r.FirstName, r.LastName, r.Email) {
			c.errs.Add("password", p)
		}
	}
	return c, nil
}

// checkName checks a first or last name: required, at most MaxNameLength, no control characters.
func checkName(c fieldCheck, field, value string) {
	if c.text(field, value, MaxNameLength, true) && HasControlCharacters(value) {
		c.errs.Add(field, MsgControlCharacters)
	}
}

// checkAddress checks the optional postal address: at most MaxAddressLength, line breaks allowed.
func checkAddress(c fieldCheck, value string) {
	if c.text("address", value, MaxAddressLength, false) && hasControlsBesidesLineBreaks(value) {
		c.errs.Add("address", MsgControlCharacters)
	}
}

// checkNewEmail checks an address an account is to have (its length already checked): valid,
// and no account's.
func (s *Service) checkNewEmail(ctx context.Context, c fieldCheck, raw string) error {
	email, ok := NormalizeEmail(raw)
	if !ok {
		c.errs.Add("email", MsgInvalidEmail)
		return nil
	}
	if _, err := s.store.UserByEmailKey(ctx, EmailKey(email)); err == nil {
		c.errs.Add("email", MsgEmailTaken)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// checkPhone checks a required phone number and returns it in E.164: it must parse, and belong
// to no account but the one whose number is own.
func (s *Service) checkPhone(ctx context.Context, c fieldCheck, raw, own string) (string, error) {
	if !c.text("phone_no", raw, MaxPhoneLength, true) {
		return "", nil
	}
	phone, ok := s.ParsePhone(raw)
	if !ok {
		c.errs.Add("phone_no", MsgInvalidPhone)
		return "", nil
	}
	if phone == own {
		return phone, nil
	}
	taken, err := s.store.PhoneTaken(ctx, phone)
	if err != nil {
		return "", err
	}
	if taken {
		c.errs.Add("phone_no", MsgPhoneTaken)
	}
	return phone, nil
}

// Register creates an account. It returns a ValidationError listing every problem, those a
// transport found in the same request (found, nil when none) with the rules' own, or ErrBusy when
// password hashing is at capacity. Without a password, a code to set one is mailed.
func (s *Service) Register(ctx context.Context, r Registration, found ValidationError) error {
	check, err := s.checkRegistration(ctx, r, found)
	if err != nil {
		return err
	}
	if err := check.err(); err != nil {
		return err
	}
	email, _ := NormalizeEmail(r.Email)
	phone, _ := s.ParsePhone(r.Phone)
	now := s.now()
	u := User{
		ID: uuid.NewString(), FirstName: r.FirstName, LastName: r.LastName, Address: r.Address,
		Email: email, Phone: phone, Active: true, DateJoined: now,
	}
	var code *Code
	var mail *Outgoing
	switch {
	case r.Password == nil: // a code to set the password, which also proves the address
		c, digits := s.newCode(CodeReset, EmailKey(email), u.ID, now)
		code, mail = &c, s.sealCode(u.ID, c, welcomeMessage(u.Email, digits, s.cfg.CodeTTL))
	case s.cfg.EmailVerification != VerificationOff:
		c, digits := s.newCode(CodeVerify, EmailKey(email), u.ID, now)
		code, mail = &c, s.sealCode(u.ID, c, verificationMessage(u.Email, digits, s.cfg.CodeTTL))
	}
	if code != nil {
		code.ByRegistration = true
	}
	if r.Password != nil {
		if u.PasswordHash, err = s.hasher.Hash(ctx, *r.Password); err != nil {
			return err
		}
	}
	ev := s.auditEvent(ctx, "register", "user_id", u.ID, "password_set", r.Password != nil)
	if err := s.store.CreateUser(ctx, u, code, mail, ev); err != nil {
		return takenError(err)
	}
	if mail != nil {
		s.mailed()
	}
	s.logged(ctx, slog.LevelInfo, "user registered", ev)
	return nil
}

// takenError turns the store's report of a taken email or phone (an account registered since
// the check read them) into the contract's field error.
func takenError(err error) error {
	switch {
	case errors.Is(err, ErrEmailTaken):
		return ValidationError{"email": {MsgEmailTaken}}
	case errors.Is(err, ErrPhoneTaken):
		return ValidationError{"phone_no": {MsgPhoneTaken}}
	}
	return err
}

// emailLocal and emailDomain follow Django's EmailValidator (unquoted local parts, hostname
// domains with a TLD of two or more characters, or localhost).
var (
	emailLocal  = regexp.MustCompile("^[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*$")
	emailDomain = regexp.MustCompile(`^((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+)(?:[A-Za-z0-9-]{2,63})$`)
)

// NormalizeEmail checks an address and returns it with its domain lower-cased, as Django stores it.
func NormalizeEmail(email string) (string, bool) {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || len(email) > MaxEmailLength || !emailLocal.MatchString(local) {
		return "", false
	}
	domain = strings.ToLower(domain)
	if domain != "localhost" && (!emailDomain.MatchString(domain) || strings.HasSuffix(domain, "-")) {
		return "", false
	}
	return local + "@" + domain, true
}

// ParsePhone parses a phone number in international form, or in national form when a default
// region is configured, and returns it in E.164.
func (s *Service) ParsePhone(raw string) (string, bool) {
	if len(raw) > MaxPhoneLength {
		return "", false
	}
	region := s.cfg.PhoneRegion
	if region == "" {
		region = "ZZ" // unknown region: only +<country> numbers parse
	}
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}
