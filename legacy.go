package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Moving in from the original Django service: its accounts are imported (ImportUsers and the
// rest, fed by the importer's reading of a dumpdata file), its password hashes are checked at
// sign-in (djangohash.go), and its tokens are honoured for a while (legacytoken.go).

// ImportedUser is an account of the original service as the importer read it: raw values, which
// ImportUsers judges by this service's rules.
type ImportedUser struct {
	LegacyID      string // the original's primary key, which its tokens name as user_id
	Email         string
	FirstName     string
	LastName      string
	Address       string
	Phone         string // as stored by the original; "" for none
	PasswordHash  string // Django's encoding; "" or "!..." for no usable password
	Active        bool
	EmailVerified bool
	DateJoined    time.Time
}

// ImportedSocial is one python-social-auth link of the original.
type ImportedSocial struct {
	LegacyUserID string
	Provider     string
	UID          string // Google's sub, or the email where the original was configured so
}

// ImportedToken is one of simplejwt's outstanding tokens, and whether the original blacklisted it.
type ImportedToken struct {
	OutstandingPK string
	JTI           string
	LegacyUserID  string
	ExpiresAt     time.Time
}

// ImportedBlacklisting is one of simplejwt's blacklist records: the outstanding token it names.
type ImportedBlacklisting struct {
	OutstandingPK string
	At            time.Time
}

// ImportOutcome is what became of one imported record.
type ImportOutcome struct {
	Added   bool
	Updated bool
	Skipped string // why it was skipped; "" when it was not
	Note    string // what an operator should know of a record imported (NoteNoPassword)
}

// ImportStore is what the importer needs of a store, beside the Store.
type ImportStore interface {
	// ImportUsers adds the users, or updates those whose email key an account has already, in
	// one transaction, each user whole or not at all; the outcome of each is in order. An
	// account whose password this service has already taken over (re-hashed or changed) keeps
	// it. With dryRun nothing is kept.
	ImportUsers(ctx context.Context, users []User, legacyIDs []string, dryRun bool) ([]ImportOutcome, error)
	// ImportSocial links provider identities to the imported users they name, in one
	// transaction; a link whose user was not imported, or whose identity another account has,
	// is skipped.
	ImportSocial(ctx context.Context, links []ImportedSocial, at time.Time, dryRun bool) ([]ImportOutcome, error)
	// ImportTokens records simplejwt's outstanding tokens and blacklist, in one transaction.
	ImportTokens(ctx context.Context, tokens []ImportedToken, blacklist []ImportedBlacklisting, dryRun bool) error
}

// Skip reasons of an import, one per rule, for the report.
const (
	SkipInvalidEmail = "invalid email"
	SkipEmailTaken   = "email already imported from another record (another pk)"
	SkipInvalidPhone = "invalid phone number"
	SkipPhoneTaken   = "phone number taken by another account"
	SkipName         = "first or last name breaks the account rules"
	SkipAddress      = "address breaks the account rules"
	SkipNoPK         = "no primary key"
	SkipLegacyTaken  = "primary key already imported for another email"
	SkipNoUser       = "no imported user has this primary key"
	SkipSocialTaken  = "identity linked to another account"
	SkipProvider     = "provider is not google-oauth2"
	NoteNoPassword   = "imported without a usable password: its hash is in no encoding authd reads, or has parameters past its limits (a reset sets one)"
	SkipNativeEmail  = "email belongs to an account made here, not imported"
	SkipBadToken     = "unusable jti, user or pk"
)

// PrepareImport judges an imported user by this service's rules and returns the account it
// becomes (its id the original's primary key when that is a UUID, else a new one), or why it
// is skipped. It changes nothing.
func (s *Service) PrepareImport(r ImportedUser) (User, string) {
	if r.LegacyID == "" || len(r.LegacyID) > 255 || !utf8.ValidString(r.LegacyID) || HasControlCharacters(r.LegacyID) {
		return User{}, SkipNoPK
	}
	email, ok := NormalizeEmail(strings.TrimSpace(r.Email))
	if !ok {
		return User{}, SkipInvalidEmail
	}
	for _, name := range []string{r.FirstName, r.LastName} {
		if utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name) || HasControlCharacters(name) {
			return User{}, SkipName
		}
	}
	if utf8.RuneCountInString(r.Address) > MaxAddressLength || !utf8.ValidString(r.Address) || hasControlsBesidesLineBreaks(r.Address) || strings.ContainsRune(r.Address, 0) {
		return User{}, SkipAddress
	}
	phone := ""
	if p := strings.TrimSpace(r.Phone); p != "" {
		if phone, ok = s.ParsePhone(p); !ok {
			return User{}, SkipInvalidPhone
		}
	}
	hash := r.PasswordHash
	switch {
	case hash == "" || strings.HasPrefix(hash, "!"):
		hash = "" // Django's unusable password: none here either
	case !UsableDjangoHash(hash):
		hash = "" // checked by nothing: the account has no usable password (the report says so)
	}
	id := r.LegacyID
	if u, err := uuid.Parse(id); err != nil || u.String() != strings.ToLower(id) {
		id = uuid.NewString()
	} else {
		id = u.String()
	}
	joined := r.DateJoined
	if joined.IsZero() {
		joined = s.now()
	}
	return User{ID: id, FirstName: r.FirstName, LastName: r.LastName, Address: r.Address, Email: email, Phone: phone,
		EmailVerified: r.EmailVerified, Active: r.Active, DateJoined: joined.UTC(), PasswordHash: hash}, ""
}

// ImportUsers imports a batch of the original's users: each is judged (PrepareImport), then the
// store adds or updates the good ones in one transaction. The outcomes are in the batch's order.
func (s *Service) ImportUsers(ctx context.Context, store ImportStore, batch []ImportedUser, dryRun bool) ([]ImportOutcome, error) {
	out := make([]ImportOutcome, len(batch))
	var users []User
	var legacy []string
	var at []int
	seen := map[string]bool{}
	for i, r := range batch {
		u, skip := s.PrepareImport(r)
		if skip == "" && seen[EmailKey(u.Email)] {
			skip = SkipEmailTaken
		}
		if skip != "" {
			out[i].Skipped = skip
			continue
		}
		seen[EmailKey(u.Email)] = true
		users, legacy, at = append(users, u), append(legacy, r.LegacyID), append(at, i)
	}
	if len(users) == 0 {
		return out, nil
	}
	got, err := store.ImportUsers(ctx, users, legacy, dryRun)
	if err != nil {
		return nil, fmt.Errorf("import users: %w", err)
	}
	for j, o := range got {
		if o.Skipped == "" && users[j].PasswordHash == "" && batch[at[j]].PasswordHash != "" && !strings.HasPrefix(batch[at[j]].PasswordHash, "!") {
			o.Note = NoteNoPassword
		}
		out[at[j]] = o
	}
	return out, nil
}

// ImportSocial links the original's Google identities to the imported users they name.
func (s *Service) ImportSocial(ctx context.Context, store ImportStore, batch []ImportedSocial, dryRun bool) ([]ImportOutcome, error) {
	out := make([]ImportOutcome, len(batch))
	var links []ImportedSocial
	var at []int
	for i, l := range batch {
		if l.Provider != "google-oauth2" {
			out[i].Skipped = SkipProvider
			continue
		}
		if l.UID == "" || len(l.UID) > maxSubjectLength || !utf8.ValidString(l.UID) || HasControlCharacters(l.UID) {
			out[i].Skipped = "unusable uid"
			continue
		}
		if strings.Contains(l.UID, "@") { // the original used the email as the uid
			l.UID = EmailKey(l.UID)
		}
		links, at = append(links, l), append(at, i)
	}
	if len(links) == 0 {
		return out, nil
	}
	got, err := store.ImportSocial(ctx, links, s.now(), dryRun)
	if err != nil {
		return nil, fmt.Errorf("import social links: %w", err)
	}
	for j, o := range got {
		out[at[j]] = o
	}
	return out, nil
}

// ImportTokens records the original's outstanding tokens and blacklist, so that a blacklisted
// refresh token stays refused here. Records whose ids could not be asked about (control
// characters, a NUL, too long) are dropped: no token can carry them (see legacyID).
func (s *Service) ImportTokens(ctx context.Context, store ImportStore, tokens []ImportedToken, blacklist []ImportedBlacklisting, dryRun bool) (dropped int, err error) {
	usable := func(ids ...string) bool {
		for _, id := range ids {
			if id != "" && !legacyID(id) {
				return false
			}
		}
		return true
	}
	keptTokens := tokens[:0:0]
	for _, t := range tokens {
		if t.JTI != "" && usable(t.JTI, t.LegacyUserID, t.OutstandingPK) {
			keptTokens = append(keptTokens, t)
		} else {
			dropped++
		}
	}
	keptBlacklist := blacklist[:0:0]
	for _, b := range blacklist {
		if usable(b.OutstandingPK) {
			keptBlacklist = append(keptBlacklist, b)
		} else {
			dropped++
		}
	}
	if len(keptTokens) == 0 && len(keptBlacklist) == 0 {
		return dropped, nil
	}
	return dropped, store.ImportTokens(ctx, keptTokens, keptBlacklist, dryRun)
}

// LogImport records that an import ran, for the log.
func (s *Service) LogImport(ctx context.Context, added, updated, skipped int, dryRun bool) {
	s.event(ctx, slog.LevelInfo, "accounts imported", "import", "added", added, "updated", updated, "skipped", skipped, "dry_run", dryRun)
}
