package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	auth "github.com/authd/authd"
)

var _ auth.ImportStore = (*Store)(nil)

// ImportUsers adds or updates each user in one transaction, each inside a savepoint so that a
// user who breaks a constraint is skipped whole and the rest go on.
func (s *Store) ImportUsers(ctx context.Context, users []auth.User, legacyIDs []string, dryRun bool) ([]auth.ImportOutcome, error) {
	out := make([]auth.ImportOutcome, len(users))
	err := s.importTx(ctx, dryRun, func(tx *sql.Tx) error {
		for i, u := range users {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT import_user"); err != nil {
				return err
			}
			o, err := s.importUser(ctx, tx, u, legacyIDs[i])
			if err != nil {
				if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT import_user"); rerr != nil {
					return rerr
				}
				switch s.d.UniqueViolation(err) {
				case "users.phone":
					o = auth.ImportOutcome{Skipped: auth.SkipPhoneTaken}
				case "users.legacy_id", "users.id":
					o = auth.ImportOutcome{Skipped: auth.SkipLegacyTaken}
				case "users.email_key":
					o = auth.ImportOutcome{Skipped: auth.SkipEmailTaken}
				default:
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT import_user"); err != nil {
				return err
			}
			out[i] = o
		}
		return nil
	})
	return out, err
}

func (s *Store) importUser(ctx context.Context, tx *sql.Tx, u auth.User, legacyID string) (auth.ImportOutcome, error) {
	var id string
	var existing sql.NullString
	err := s.row(ctx, tx, "userIDByEmailKey", auth.EmailKey(u.Email)).Scan(&id, &existing)
	if errors.Is(err, sql.ErrNoRows) {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return auth.ImportOutcome{}, err
		}
		_, err := s.exec(ctx, tx, "setLegacyID", legacyID, u.ID)
		return auth.ImportOutcome{Added: true}, err
	}
	if err != nil {
		return auth.ImportOutcome{}, err
	}
	// An account imported from another record of the original: the same email twice in one dump
	// (in different batches), or a user the original deleted and made again. Neither is an
	// update of the first; the operator decides.
	if existing.Valid && existing.String != legacyID {
		return auth.ImportOutcome{Skipped: auth.SkipEmailTaken}, nil
	}
	// An account someone made here is theirs: whoever held the address at the original (which may
	// never have proven it) does not get its password, names or Google link.
	if !existing.Valid {
		return auth.ImportOutcome{Skipped: auth.SkipNativeEmail}, nil
	}
	_, err = s.exec(ctx, tx, "updateImportedUser", u.FirstName, u.LastName, u.Address, u.Phone, boolInt(u.Active),
		boolInt(u.EmailVerified), legacyID, u.PasswordHash, id)
	return auth.ImportOutcome{Updated: true}, err
}

// ImportSocial links identities to the imported users they name, in one transaction.
func (s *Store) ImportSocial(ctx context.Context, links []auth.ImportedSocial, at time.Time, dryRun bool) ([]auth.ImportOutcome, error) {
	out := make([]auth.ImportOutcome, len(links))
	err := s.importTx(ctx, dryRun, func(tx *sql.Tx) error {
		for i, l := range links {
			var userID string
			err := s.row(ctx, tx, "userIDByLegacyID", l.LegacyUserID).Scan(&userID)
			if errors.Is(err, sql.ErrNoRows) {
				out[i].Skipped = auth.SkipNoUser
				continue
			}
			if err != nil {
				return err
			}
			// A link keyed by email is re-keyed to the provider's subject at the first sign-in
			// (auth's adoptEmailLink): an account linked for the provider already has it.
			if strings.Contains(l.UID, "@") {
				var linked int
				if err := s.row(ctx, tx, "providerLinks", userID, l.Provider).Scan(&linked); err != nil {
					return err
				}
				if linked > 0 {
					out[i].Updated = true
					continue
				}
			}
			// The original linked it: it counts as proven, so that proving the email here later
			// does not remove it.
			n, err := s.exec(ctx, tx, "importSocial", l.Provider, l.UID, userID, micros(at))
			if err != nil {
				return err
			}
			if n == 1 {
				out[i].Added = true
				continue
			}
			var owner string
			if err := s.row(ctx, tx, "socialOwner", l.Provider, l.UID).Scan(&owner); err != nil {
				return err
			}
			if owner == userID {
				out[i].Updated = true
			} else {
				out[i].Skipped = auth.SkipSocialTaken
			}
		}
		return nil
	})
	return out, err
}

// ImportTokens records simplejwt's outstanding tokens and blacklist, in one transaction.
func (s *Store) ImportTokens(ctx context.Context, tokens []auth.ImportedToken, blacklist []auth.ImportedBlacklisting, dryRun bool) error {
	return s.importTx(ctx, dryRun, func(tx *sql.Tx) error {
		for _, t := range tokens {
			if _, err := s.exec(ctx, tx, "importLegacyToken", t.JTI, t.OutstandingPK, t.LegacyUserID, micros(t.ExpiresAt)); err != nil {
				return err
			}
		}
		for _, b := range blacklist {
			if _, err := s.exec(ctx, tx, "importBlacklisting", b.OutstandingPK, micros(b.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// errDryRun rolls back a dry run's transaction after it did everything.
var errDryRun = errors.New("dry run")

// importTx runs fn in a transaction, committed unless dryRun.
func (s *Store) importTx(ctx context.Context, dryRun bool, fn func(tx *sql.Tx) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}
