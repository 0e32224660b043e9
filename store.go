package auth

import (
	"context"
	"time"
)

// Store is what the Service needs from persistence. Every method that changes more than one row
// does so in one transaction; single-use things are consumed by conditional writes.
//
// The methods that change state take the audit events that record the change (see audit.go) and
// write them in the change's transaction: both commit, or neither.
type Store interface {
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error

	// CreateUser inserts u, with an optional reset code and email written in the same
	// transaction. A duplicate email or phone returns ErrEmailTaken or ErrPhoneTaken.
	CreateUser(ctx context.Context, u User, code *Code, mail *Outgoing, audit ...AuditEvent) error
	// UserByEmailKey returns the user with that email key, or ErrNotFound.
	UserByEmailKey(ctx context.Context, emailKey string) (User, error)
	// UserByID returns the user, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// Profile returns the user with the providers linked to it, in one read, or ErrNotFound.
	Profile(ctx context.Context, userID string) (Profile, error)
	// UpdateProfile sets the fields of p that are not nil. A phone number another account has is
	// ErrPhoneTaken; no such user is ErrNotFound.
	UpdateProfile(ctx context.Context, userID string, p ProfileUpdate) error
	// DeleteUser removes the user and everything that hangs from it (sign-ins and their tokens,
	// codes, provider links, mail), in one transaction. ErrNotFound when there is no such user.
	DeleteUser(ctx context.Context, userID string, audit ...AuditEvent) error
	// ChangeAccount applies change in one transaction; see AccountChange for its conditions.
	ChangeAccount(ctx context.Context, change AccountChange) error
	// SetUserActive enables or disables an account; a disabled one's tokens fail at once.
	// ErrNotFound when there is no such user.
	SetUserActive(ctx context.Context, id string, active bool, audit ...AuditEvent) error
	// SessionStanding returns what decides whether an access token of the sign-in is honoured,
	// in one indexed read: the hot path of every verify. ErrNotFound when it is gone.
	SessionStanding(ctx context.Context, sessionID string) (SessionStanding, error)
	// PhoneTaken reports whether an account has that E.164 phone number.
	PhoneTaken(ctx context.Context, phone string) (bool, error)
	// ReplacePasswordHash swaps the hash only if it is still old (a re-hash with new parameters).
	ReplacePasswordHash(ctx context.Context, userID, old, new string) error

	// SocialLinks returns the provider identities linked to a user, oldest first.
	SocialLinks(ctx context.Context, userID string) ([]SocialLink, error)
	// UserBySocial returns the user linked to a provider's subject, or ErrNotFound.
	UserBySocial(ctx context.Context, provider, subject string) (User, error)
	// CreateSocialUser inserts u linked to the provider's identity, in one transaction. A taken
	// email is ErrEmailTaken; a subject already linked is ErrConflict.
	CreateSocialUser(ctx context.Context, u User, link SocialLink, audit ...AuditEvent) error
	// RekeySocial changes the subject of a link (an imported link keyed by email, to the
	// provider's subject). ErrNotFound when there is no such link; ErrConflict when the new
	// subject is linked already.
	RekeySocial(ctx context.Context, provider, oldSubject, newSubject string, audit ...AuditEvent) error
	// LinkSocial links the provider's identity to an existing user and applies change, in one
	// transaction. A subject already linked is ErrConflict.
	LinkSocial(ctx context.Context, link SocialLink, change AccountChange) error

	// CreateSession stores a new sign-in and its first refresh token, only while the user is
	// active and its PasswordChangedAt is still s.PasswordChangedAt; otherwise ErrConflict.
	CreateSession(ctx context.Context, s Session, first RefreshToken, audit ...AuditEvent) error
	// RefreshState returns the state of a refresh token by its jti, or ErrNotFound.
	RefreshState(ctx context.Context, jti string) (RefreshState, error)
	// RotateRefresh marks jti used at now and stores next as its successor, in one transaction,
	// only if jti is unused and its session live; otherwise ErrConflict.
	RotateRefresh(ctx context.Context, jti string, next RefreshToken, now time.Time) error
	// RevokeSession revokes a sign-in and so every refresh token of it.
	RevokeSession(ctx context.Context, sessionID string, now time.Time, audit ...AuditEvent) error
	// UserSessions returns the user's live sign-ins at now (not revoked, newest refresh token
	// unexpired), newest first.
	UserSessions(ctx context.Context, userID string, now time.Time) ([]SessionInfo, error)
	// RevokeUserSession revokes the sign-in if it is a live one of the user at now; otherwise
	// ErrNotFound.
	RevokeUserSession(ctx context.Context, userID, sessionID string, now time.Time, audit ...AuditEvent) error

	// AddCode stores code (which replaces the older ones of its purpose and owner, see
	// Code.ByUser, and stops their unsent emails) and its email, unless limit codes were already
	// of its purpose made since since for the same email key or, for a code found by its user,
	// for the same user: then it returns a *ThrottledError whose RetryAfter is
	// measured from code.CreatedAt. A limit of 0 means no limit.
	AddCode(ctx context.Context, code Code, mail *Outgoing, limit int, since time.Time, audit ...AuditEvent) error
	// ClaimCode counts one attempt against the newest code of the owner and returns it, if it is
	// unused, unexpired at now and had fewer than maxAttempts; otherwise ErrNotFound.
	ClaimCode(ctx context.Context, owner CodeOwner, now time.Time, maxAttempts int) (Code, error)
	// RefundCodeAttempt gives back the attempt a correct check counted.
	RefundCodeAttempt(ctx context.Context, codeID string) error
	// UseCode uses up the code and applies change, in one transaction. A code already used
	// returns ErrNotFound.
	UseCode(ctx context.Context, codeID string, change AccountChange) error

	// StartTOTP stores an enrolment, replacing an unconfirmed one; ErrConflict when the user
	// has two-factor sign-in on.
	StartTOTP(ctx context.Context, t TOTP) error
	// TOTP returns the user's authenticator (or enrolment), or ErrNotFound.
	TOTP(ctx context.Context, userID string) (TOTP, error)
	// ConfirmTOTP turns the enrolment on, recording step as used, and stores the recovery code
	// digests, in one transaction; ErrConflict when it is on already or step is not newer than
	// the last used.
	ConfirmTOTP(ctx context.Context, userID string, step int64, recovery [][]byte, at time.Time, audit ...AuditEvent) error
	// UseTOTPStep records step as used if it is newer than the last used one (and two-factor
	// is on); otherwise ErrConflict. Of requests racing with one code, one wins.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	// UseRecoveryCode uses up the unused recovery code with that digest (while two-factor is
	// on), or returns ErrNotFound.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error
	// ReplaceRecoveryCodes replaces all the user's recovery codes, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// DeleteTOTP removes the authenticator, the recovery codes and the waiting sign-ins.
	DeleteTOTP(ctx context.Context, userID string, audit ...AuditEvent) error
	// CreateMFAChallenge stores a sign-in waiting for its second factor.
	CreateMFAChallenge(ctx context.Context, ch MFAChallenge) error
	// ClaimMFAChallenge counts one attempt against the challenge and returns it, if it is
	// unused, unexpired at now and had fewer than maxAttempts; otherwise ErrNotFound.
	ClaimMFAChallenge(ctx context.Context, tokenHash []byte, now time.Time, maxAttempts int) (MFAChallenge, error)
	// FinishMFAChallenge uses the challenge up and stores the sign-in it becomes, as
	// CreateSession does, in one transaction; ErrConflict when it was used meanwhile or the
	// credentials changed.
	FinishMFAChallenge(ctx context.Context, tokenHash []byte, now time.Time, s Session, first RefreshToken, audit ...AuditEvent) error

	// UserByLegacyID returns the imported user whose primary key in the original service was
	// legacyID, or ErrNotFound.
	UserByLegacyID(ctx context.Context, legacyID string) (User, error)
	// LegacyRefreshState returns what is known of the original's refresh token jti: whether it
	// was used, the sign-in it became and that sign-in's first refresh token, and whether the
	// original blacklisted it. A token never recorded has the zero state, not an error.
	LegacyRefreshState(ctx context.Context, jti string) (LegacyRefreshState, error)
	// UseLegacyRefresh records the token used at use.UsedAt and stores the sign-in s it became,
	// with its first refresh token, as CreateSession does, in one transaction. ErrConflict when
	// the token was used or blacklisted (of racing uses one wins), was recorded for another
	// user, or the user changed as for CreateSession.
	UseLegacyRefresh(ctx context.Context, use LegacyUse, s Session, first RefreshToken, audit ...AuditEvent) error
	// RevokeLegacyRefresh records the token used at use.UsedAt with no sign-in (a logout);
	// ErrConflict when it was used already, blacklisted or recorded for another user.
	RevokeLegacyRefresh(ctx context.Context, use LegacyUse, audit ...AuditEvent) error

	// SigningKeys returns every kept signing key, newest generation first.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	// AddSigningKey stores k unless a key of its generation exists (another instance won).
	AddSigningKey(ctx context.Context, k StoredKey) error
	// ReplaceSigningKey swaps the material of the signing key kid only if it is still old;
	// otherwise ErrConflict.
	ReplaceSigningKey(ctx context.Context, kid string, old, new []byte) error
	// RefreshKeys returns every kept refresh key, newest generation first.
	RefreshKeys(ctx context.Context) ([]StoredKey, error)
	// AddRefreshKey stores k unless a key of its generation exists.
	AddRefreshKey(ctx context.Context, k StoredKey) error
	// ReplaceRefreshKey swaps the material of the refresh key kid only if it is still old;
	// otherwise ErrConflict.
	ReplaceRefreshKey(ctx context.Context, kid string, old, new []byte) error
	// Secret returns the stored secret of that name, storing candidate first if there is none.
	Secret(ctx context.Context, name string, candidate []byte) ([]byte, error)
	// ReplaceSecret swaps the value of the named secret only if it is still old; otherwise
	// ErrConflict.
	ReplaceSecret(ctx context.Context, name string, old, new []byte) error

	// Purge deletes, in batches of at most batch rows, what can no longer matter at now: expired
	// refresh tokens and their sessions, codes older than the hourly window, sent or dead mail,
	// (in a store that counts for a Limiter) windows that have ended, and audit events older than
	// keepAudit (0 keeps them all).
	Purge(ctx context.Context, now time.Time, batch int, keepAudit time.Duration) (int, error)

	// The admin API (admin.go).

	// ListUsers returns the accounts matching q, in (date_joined, id) order, after q's keyset.
	ListUsers(ctx context.Context, q UserListQuery) ([]UserRecord, error)
	// UserRecord returns the account with its profile and newest sign-in, or ErrNotFound.
	UserRecord(ctx context.Context, id string) (UserRecord, error)
	// UpdateUser applies u in one transaction; a new email uses up the account's unused codes. A
	// taken email or phone is ErrEmailTaken or ErrPhoneTaken; no such user ErrNotFound.
	UpdateUser(ctx context.Context, id string, u UserUpdate, at time.Time, audit ...AuditEvent) error
	// RetireSigningKey and RetireRefreshKey mark the key retired at at; ErrNotFound when there
	// is no such key not yet retired.
	RetireSigningKey(ctx context.Context, kid string, at time.Time, audit ...AuditEvent) error
	RetireRefreshKey(ctx context.Context, kid string, at time.Time, audit ...AuditEvent) error

	// The audit log (audit.go).

	// AddAuditEvent writes an event that records no change of its own.
	AddAuditEvent(ctx context.Context, ev AuditEvent) error
	// AuditEvents returns the events matching q, newest first (by time, then id), before q's
	// keyset.
	AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}

// Limiter counts events per key in fixed windows. Implementations keep the counts in memory, in
// Redis or in the database; a limit of 0 is never passed to them.
type Limiter interface {
	// Hit counts one event for key and reports whether it is within limit events per window;
	// when it is not, retryAfter says when the window ends.
	Hit(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
	// Count returns the events counted for key in its current window and when the window ends.
	Count(ctx context.Context, key string, window time.Duration) (n int, retryAfter time.Duration, err error)
	// Unhit takes back one event counted for key in its open window (a correct password that
	// was counted before it was judged), never below zero.
	Unhit(ctx context.Context, key string) error
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}
