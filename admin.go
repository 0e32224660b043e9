package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The operator's flows (the contract's "Operating it"): what the admin API and the authd users
// and keys commands do. Each logs an admin_action security event naming the action.

// UserRecord is an account as an operator sees it: its owner's profile and its newest sign-in.
type UserRecord struct {
	Profile
	// LastLogin is when the newest sign-in the store still keeps began; zero when there is none.
	LastLogin time.Time
}

// UserListQuery is one page of accounts as the store reads it: those matching Search, after the
// keyset (AfterJoined, AfterID) in (date_joined, id) order, at most Limit of them.
type UserListQuery struct {
	// Search is a lower-case substring of the email, first name, last name or full name; "" is
	// every account.
	Search      string
	AfterJoined time.Time // with AfterID, the last account of the previous page; zero: the first page
	AfterID     string
	Limit       int
}

// UserUpdate is an operator's change of an account; nil leaves a field as it is. A new email is
// unverified unless EmailVerified says otherwise, and it uses up the account's unused codes.
type UserUpdate struct {
	ProfileUpdate
	Email         *string // normalized
	Active        *bool
	EmailVerified *bool
}

// UserListRequest is GET /admin/users' query as the client sent it, judged by AdminListUsers.
type UserListRequest struct {
	Search, Limit, Cursor string
}

// UserPage is one page of accounts; Next is the cursor of the page after it, "" after the last.
type UserPage struct {
	Users []UserRecord
	Next  string
}

// AdminChange is the body of PATCH /admin/users/{id}: nil leaves a field as it is.
type AdminChange struct {
	FirstName, LastName, Address, Phone, Email *string
	Active, EmailVerified                      *bool
}

// Limits and messages of the account list.
const (
	DefaultUserPageSize = 50
	MaxUserPageSize     = 100
	maxSearchLength     = 254

	MsgInvalidInteger = "A valid integer is required."
	MsgInvalidCursor  = "Invalid cursor."
	MsgInvalidBoolean = "Must be a valid boolean."
)

// AdminListUsers returns a page of accounts in the order they joined (ties by id), those whose
// email or name holds req.Search (case-insensitive) when it is set. Pages are keyed on the last
// account shown, so accounts added while an operator pages through are never shown twice and
// never make one skipped. A malformed limit (a whole number from 1 to MaxUserPageSize; default
// DefaultUserPageSize), cursor or search is a ValidationError.
func (s *Service) AdminListUsers(ctx context.Context, req UserListRequest) (UserPage, error) {
	check := newFieldCheck(nil)
	q := UserListQuery{Limit: pageLimit(check, req.Limit, DefaultUserPageSize)}
	if req.Cursor != "" {
		var ok bool
		if q.AfterJoined, q.AfterID, ok = parseKeysetCursor(req.Cursor, isUserID); !ok {
			check.errs.Add("cursor", MsgInvalidCursor)
		}
	}
	if search := strings.TrimSpace(req.Search); search != "" {
		switch {
		case !utf8.ValidString(search):
			check.errs.Add("search", MsgNotString)
		case strings.IndexByte(search, 0) >= 0:
			check.errs.Add("search", MsgNullCharacter)
		case utf8.RuneCountInString(search) > maxSearchLength:
			check.errs.Add("search", TooLong(maxSearchLength))
		default:
			q.Search = strings.ToLower(search)
		}
	}
	if err := check.err(); err != nil {
		return UserPage{}, err
	}
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	users, err := s.store.ListUsers(ctx, q)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: users}
	if len(users) > want {
		page.Users = users[:want]
		last := page.Users[want-1]
		page.Next = keysetCursor(last.DateJoined, last.ID)
	}
	s.event(ctx, slog.LevelInfo, "admin action", "admin_action", "action", "user_list", "results", len(page.Users))
	return page, nil
}

// keysetCursor is the opaque cursor of the page after the row (at, id) of a list ordered by time
// and id: the accounts, the audit log.
func keysetCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

// parseKeysetCursor reads a keysetCursor whose id passes validID.
func parseKeysetCursor(c string, validID func(string) bool) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return time.Time{}, "", false
	}
	us, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || !validID(id) {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

// isUserID reports whether id is an account id as authd makes them: a UUID, lower case.
func isUserID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// AdminUser returns the account with that id; an unknown or malformed id is ErrNotFound.
func (s *Service) AdminUser(ctx context.Context, id string) (UserRecord, error) {
	if !isUserID(id) {
		return UserRecord{}, ErrNotFound
	}
	rec, err := s.store.UserRecord(ctx, id)
	if err == nil {
		s.event(ctx, slog.LevelInfo, "admin action", "admin_action", "action", "user_show", "user_id", id)
	}
	return rec, err
}

// AdminFindUser returns the account whose id, or whose email (case-insensitive), ref is: the
// commands take either. ErrNotFound when there is none.
func (s *Service) AdminFindUser(ctx context.Context, ref string) (UserRecord, error) {
	if strings.Contains(ref, "@") {
		u, err := s.store.UserByEmailKey(ctx, EmailKey(strings.TrimSpace(ref)))
		if err != nil {
			return UserRecord{}, err
		}
		ref = u.ID
	}
	return s.AdminUser(ctx, ref)
}

// AdminCreateUser creates an account as registration does (Register's rules and errors) and
// returns it. Without a password a code to set one is mailed.
func (s *Service) AdminCreateUser(ctx context.Context, r Registration, found ValidationError) (UserRecord, error) {
	if err := s.Register(ctx, r, found); err != nil {
		return UserRecord{}, err
	}
	email, _ := NormalizeEmail(r.Email)
	u, err := s.store.UserByEmailKey(ctx, EmailKey(email))
	if err != nil {
		return UserRecord{}, err
	}
	s.event(ctx, slog.LevelInfo, "admin action", "admin_action", "action", "user_create", "user_id", u.ID, "password_set", r.Password != nil)
	return s.store.UserRecord(ctx, u.ID)
}

// AdminUpdateUser changes the fields of c that are set, with registration's rules and messages
// (an email or phone number another account has is the usual field error, a non-boolean is a
// ValidationError found by the transport), and returns the account as it is then. Disabling an
// account revokes nothing, but its tokens fail at once: every check of one reads whether the
// account is active. A new email is unverified unless c says otherwise.
func (s *Service) AdminUpdateUser(ctx context.Context, id string, c AdminChange, found ValidationError) (UserRecord, error) {
	current, err := s.AdminUserQuiet(ctx, id)
	if err != nil {
		return current, err
	}
	check := newFieldCheck(found)
	u := UserUpdate{ProfileUpdate: ProfileUpdate{FirstName: c.FirstName, LastName: c.LastName, Address: c.Address},
		Active: c.Active, EmailVerified: c.EmailVerified}
	if c.FirstName != nil {
		checkName(check, "first_name", *c.FirstName)
	}
	if c.LastName != nil {
		checkName(check, "last_name", *c.LastName)
	}
	if c.Address != nil {
		checkAddress(check, *c.Address)
	}
	if c.Phone != nil {
		phone, err := s.checkPhone(ctx, check, *c.Phone, current.Phone)
		if err != nil {
			return current, err
		}
		u.Phone = &phone
	}
	if c.Email != nil && check.text("email", *c.Email, MaxEmailLength, true) {
		email, ok := NormalizeEmail(*c.Email)
		switch {
		case !ok:
			check.errs.Add("email", MsgInvalidEmail)
		case EmailKey(email) == EmailKey(current.Email):
			if email != current.Email {
				u.Email = &email // the same address, written differently: kept as given
			}
		default:
			if err := s.checkNewEmail(ctx, check, email); err != nil {
				return current, err
			}
			u.Email = &email
			if u.EmailVerified == nil {
				unverified := false
				u.EmailVerified = &unverified
			}
		}
	}
	if err := check.err(); err != nil {
		return current, err
	}
	var fields []string
	for name, set := range map[string]bool{"first_name": c.FirstName != nil, "last_name": c.LastName != nil, "address": c.Address != nil,
		"phone_no": c.Phone != nil, "email": u.Email != nil, "is_active": c.Active != nil, "email_verified": c.EmailVerified != nil} {
		if set {
			fields = append(fields, name)
		}
	}
	attrs := []any{"action", "user_update", "user_id", id, "fields", strings.Join(slices.Sorted(slices.Values(fields)), ",")}
	events := []AuditEvent{{}}
	if c.Active != nil && *c.Active != current.Active {
		attrs[1] = map[bool]string{true: "user_enable", false: "user_disable"}[*c.Active]
		events = append(events, s.auditEvent(ctx, map[bool]string{true: "user_enabled", false: "user_disabled"}[*c.Active], "user_id", id, "by", "admin"))
	}
	events[0] = s.auditEvent(ctx, "admin_action", attrs...)
	if err := s.store.UpdateUser(ctx, id, u, s.now(), events...); err != nil {
		return current, takenError(err)
	}
	s.logged(ctx, slog.LevelInfo, "admin action", events[0])
	return s.store.UserRecord(ctx, id)
}

// AdminUserQuiet is AdminUser without its event, for flows that log their own.
func (s *Service) AdminUserQuiet(ctx context.Context, id string) (UserRecord, error) {
	if !isUserID(id) {
		return UserRecord{}, ErrNotFound
	}
	return s.store.UserRecord(ctx, id)
}

// AdminDeleteUser deletes the account and everything of it; ErrNotFound when there is none.
func (s *Service) AdminDeleteUser(ctx context.Context, id string) error {
	if !isUserID(id) {
		return ErrNotFound
	}
	ev := s.auditEvent(ctx, "admin_action", "action", "user_delete", "user_id", id)
	if err := s.store.DeleteUser(ctx, id, ev, s.auditEvent(ctx, "user_deleted", "user_id", id, "by", "admin")); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "admin action", ev)
	return nil
}

// AdminSignOut ends every sign-in of the account: its refresh and access tokens stop working.
// ErrNotFound when there is no such account.
func (s *Service) AdminSignOut(ctx context.Context, id string) error {
	if _, err := s.AdminUserQuiet(ctx, id); err != nil {
		return err
	}
	ev := s.auditEvent(ctx, "admin_action", "action", "user_signout", "user_id", id)
	all := s.auditEvent(ctx, "logout_all", "user_id", id, "by", "admin")
	if err := s.store.ChangeAccount(ctx, AccountChange{UserID: id, At: s.now(), RevokeSessions: true, Audit: []AuditEvent{ev, all}}); err != nil {
		return err
	}
	s.logged(ctx, slog.LevelInfo, "admin action", ev)
	return nil
}

// AdminUnlock clears the failed sign-ins counted for the account's email, so that a locked-out
// owner may sign in at once. ErrNotFound when there is no such account.
func (s *Service) AdminUnlock(ctx context.Context, id string) error {
	rec, err := s.AdminUserQuiet(ctx, id)
	if err != nil {
		return err
	}
	if s.limiter != nil {
		if err := s.limiter.Reset(ctx, loginFailuresKey(EmailKey(rec.Email))); err != nil {
			return err
		}
	}
	s.event(ctx, slog.LevelInfo, "admin action", "admin_action", "action", "user_unlock", "user_id", id)
	return nil
}

// KeyInfo is a kept signing or refresh key as `authd keys list` shows it.
type KeyInfo struct {
	ID          string
	Kind        string // "signing" (access tokens, in the JWKS) or "refresh"
	Generation  int
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiredAt   time.Time // zero while it verifies tokens
	Signing     bool      // the key this instance signs new tokens with now
}

// Keys returns every kept signing key, then every refresh key, newest generation first.
func (s *Service) Keys(ctx context.Context) ([]KeyInfo, error) {
	signing, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	refresh, err := s.store.RefreshKeys(ctx)
	if err != nil {
		return nil, err
	}
	ks := s.tokens.keys.Load()
	var out []KeyInfo
	for _, k := range signing {
		out = append(out, KeyInfo{ID: k.ID, Kind: "signing", Generation: k.Generation, CreatedAt: k.CreatedAt,
			ActivatesAt: k.ActivatesAt, RetiredAt: k.RetiredAt, Signing: ks != nil && ks.signing.ID == k.ID})
	}
	for _, k := range refresh {
		out = append(out, KeyInfo{ID: k.ID, Kind: "refresh", Generation: k.Generation, CreatedAt: k.CreatedAt,
			ActivatesAt: k.ActivatesAt, RetiredAt: k.RetiredAt, Signing: ks != nil && ks.refreshSigning == k.ID})
	}
	return out, nil
}

// ErrOnlyActiveKey refuses to retire the only key of its kind that signs tokens now: nothing
// could sign them after it.
var ErrOnlyActiveKey = errors.New("the only active key of its kind")

// ErrKeyRetired is a key that was retired already.
var ErrKeyRetired = errors.New("key already retired")

// RetireKey retires the signing or refresh key kid: every instance refuses the tokens it signed
// from its next key reload on. It is ErrOnlyActiveKey unless another key of its kind has signed
// for at least reload (AUTH_KEY_RELOAD_INTERVAL), by when every instance has loaded it and signs
// with it: until then some still sign with kid, and their new tokens would die at once. An
// unknown kid is ErrNotFound; a retired one ErrKeyRetired.
func (s *Service) RetireKey(ctx context.Context, kid string, reload time.Duration) (KeyInfo, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return KeyInfo{}, err
	}
	now := s.now()
	var target *KeyInfo
	for i := range keys {
		if keys[i].ID == kid {
			target = &keys[i]
		}
	}
	if target == nil {
		return KeyInfo{}, ErrNotFound
	}
	if !target.RetiredAt.IsZero() {
		return *target, ErrKeyRetired
	}
	others := 0
	for _, k := range keys {
		if k.Kind == target.Kind && k.ID != kid && k.RetiredAt.IsZero() && !k.ActivatesAt.Add(reload).After(now) {
			others++
		}
	}
	if others == 0 && !target.ActivatesAt.After(now) {
		return *target, ErrOnlyActiveKey
	}
	retire := s.store.RetireSigningKey
	if target.Kind == "refresh" {
		retire = s.store.RetireRefreshKey
	}
	ev := s.auditEvent(ctx, "admin_action", "action", "key_retire", "kid", kid, "kind", target.Kind)
	if err := retire(ctx, kid, now, ev); err != nil {
		return *target, err
	}
	target.RetiredAt = now
	s.logged(ctx, slog.LevelInfo, "key retired", ev)
	if err := s.ReloadKeys(ctx); err != nil {
		return *target, err
	}
	return *target, nil
}

// unretired returns the keys that still verify tokens.
func unretired(keys []StoredKey) []StoredKey {
	out := keys[:0:0]
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			out = append(out, k)
		}
	}
	return out
}
