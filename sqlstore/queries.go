package sqlstore

// queries is every statement the store runs, written once with ? placeholders.
var queries = map[string]string{
	"insertUser": `INSERT INTO users (id, first_name, last_name, address, email, email_key, phone,
		email_verified, is_active, date_joined, password_hash, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"userByEmailKey": `SELECT ` + userColumns + ` FROM users WHERE email_key = ?`,
	"userByID":       `SELECT ` + userColumns + ` FROM users WHERE id = ?`,
	"sessionStanding": `SELECT s.user_id, s.revoked_at, u.is_active FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ?`,
	"profile": `SELECT ` + userColumns + `,
		COALESCE((SELECT {string_agg}(provider, ',') FROM social_accounts a WHERE a.user_id = users.id), ''),
		(SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = users.id AND r.used_at IS NULL)
		FROM users WHERE id = ?`,
	// NULL leaves a field as it is.
	"updateProfile": `UPDATE users SET first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name),
		address = COALESCE(?, address), phone = COALESCE(?, phone) WHERE id = ?`,
	// An account's deletion, in its transaction. Its refresh tokens go with its sign-ins on
	// PostgreSQL (ON DELETE CASCADE); SQLite keeps no index of them by sign-in or user (see its
	// migration 00005), so there they stay, refused for want of their sign-in, until the expiry
	// purge. They hold no personal data: ids and times.
	"deleteUserSessions": `DELETE FROM sessions WHERE user_id = ?`,
	"deleteUserSocial":   `DELETE FROM social_accounts WHERE user_id = ?`,
	"deleteUserCodes":    `DELETE FROM reset_codes WHERE user_id = ?`,
	"deleteUserMail":     `DELETE FROM outbox WHERE user_id = ?`,
	"deleteUser":         `DELETE FROM users WHERE id = ?`,
	"phoneTaken":         `SELECT COUNT(*) FROM users WHERE phone = ?`,

	// Importing the original's accounts. A re-import updates what the original holds, but never
	// a password this service has taken over (re-hashed to its Argon2id, or changed here), never
	// un-verifies an email, and never enables an account disabled here.
	"userIDByEmailKey": `SELECT id, legacy_id FROM users WHERE email_key = ?`,
	"userIDByLegacyID": `SELECT id FROM users WHERE legacy_id = ?`,
	"setLegacyID":      `UPDATE users SET legacy_id = ? WHERE id = ?`,
	"updateImportedUser": `UPDATE users SET first_name = ?, last_name = ?, address = ?, phone = COALESCE(NULLIF(?, ''), phone),
		is_active = CASE WHEN is_active = 0 THEN 0 ELSE ? END, email_verified = CASE WHEN email_verified = 1 THEN 1 ELSE ? END, legacy_id = ?,
		password_hash = CASE WHEN password_hash LIKE '$argon2id$%' THEN password_hash ELSE ? END
		WHERE id = ?`,
	"importSocial": `INSERT INTO social_accounts (provider, subject, user_id, created_at, email_verified) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (provider, subject) DO NOTHING`,
	"rekeySocial":   `UPDATE social_accounts SET subject = ? WHERE provider = ? AND subject = ?`,
	"providerLinks": `SELECT COUNT(*) FROM social_accounts WHERE user_id = ? AND provider = ?`,
	"socialOwner":   `SELECT user_id FROM social_accounts WHERE provider = ? AND subject = ?`,
	"importLegacyToken": `INSERT INTO legacy_tokens (jti, outstanding_pk, legacy_user_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET outstanding_pk = excluded.outstanding_pk`,
	"importBlacklisting": `INSERT INTO legacy_blacklist (outstanding_pk, blacklisted_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
	"setActive":          `UPDATE users SET is_active = ? WHERE id = ?`,
	"replaceHash":        `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
	"userBySocial": `SELECT ` + userColumns + ` FROM users
		WHERE id = (SELECT user_id FROM social_accounts WHERE provider = ? AND subject = ?)`,
	"socialLinks":  `SELECT provider, subject, email_verified, created_at FROM social_accounts WHERE user_id = ? ORDER BY created_at, provider, subject`,
	"insertSocial": `INSERT INTO social_accounts (provider, subject, user_id, created_at, email_verified) VALUES (?, ?, ?, ?, ?)`,

	// The statements of an auth.AccountChange.
	"lockCredentials":     `UPDATE users SET password_changed_at = password_changed_at WHERE id = ? AND password_changed_at = ? AND is_active = 1`,
	"setEmail":            `UPDATE users SET email = ?, email_key = ? WHERE id = ?`,
	"cancelUserCodes":     `UPDATE reset_codes SET used_at = ? WHERE user_id = ? AND used_at IS NULL`,
	"setPassword":         `UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?`,
	"verifyEmail":         `UPDATE users SET email_verified = 1 WHERE id = ?`,
	"dropUnprovenSocial":  `DELETE FROM social_accounts WHERE user_id = ? AND email_verified = 0`,
	"revokeUserSessions":  `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
	"markSessionsRevoked": `UPDATE users SET sessions_revoked_at = ? WHERE id = ?`,

	// A sign-in is stored only if the credentials its check read are still the account's: a
	// reset committed meanwhile moved password_changed_at. On PostgreSQL the user's row is
	// share-locked, so a reset either waits for this sign-in (and then revokes it) or commits
	// first (and this inserts nothing).
	"insertSession": `INSERT INTO sessions (id, user_id, created_at, expires_at, refresh_expires_at, amr, ip, user_agent)
		SELECT ?, id, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? AND is_active = 1 AND password_changed_at = ? {for_share}`,
	// A rotation records its time and its token's expiry on the sign-in; the purge expiry moves a
	// slack past that when the token would outlive it.
	"touchSession": `UPDATE sessions SET last_used_at = ?, refresh_expires_at = ?,
		expires_at = CASE WHEN expires_at < ? THEN ? ELSE expires_at END WHERE id = ?`,
	// A sign-in lives while it is not revoked and its newest refresh token has not expired.
	"userSessions": `SELECT id, created_at, last_used_at, refresh_expires_at, ip, user_agent, amr FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND refresh_expires_at > ? ORDER BY created_at DESC, id`,
	"revokeUserSession": `UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL
		AND refresh_expires_at > ?`,
	"insertRefresh": `INSERT INTO refresh_tokens (jti, session_id, user_id, key_id, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
	"refreshState": `SELECT t.jti, t.session_id, t.user_id, t.key_id, t.issued_at, t.expires_at, t.used_at,
		n.jti, n.key_id, n.issued_at, n.expires_at, n.used_at,
		s.created_at, s.revoked_at, s.amr, u.is_active, u.password_changed_at
		FROM refresh_tokens t
		JOIN sessions s ON s.id = t.session_id
		JOIN users u ON u.id = t.user_id
		LEFT JOIN refresh_tokens n ON n.jti = t.successor_jti
		WHERE t.jti = ?`,
	// Consuming a refresh token is one conditional write: of racing requests exactly one
	// matches used_at IS NULL.
	// (EXISTS, not IN: the session is found by its key, never by scanning every live one.)
	"useRefresh": `UPDATE refresh_tokens SET used_at = ?, successor_jti = ?
		WHERE jti = ? AND used_at IS NULL
		AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL)`,
	"revokeSession": `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,

	// The hourly cap counts the codes asked for, not the one a registration mailed unasked.
	"countCodes": `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM reset_codes
		WHERE email_key = ? AND purpose = ? AND created_at > ? AND by_registration = 0`,
	"countUserCodes": `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM reset_codes
		WHERE user_id = ? AND purpose = ? AND created_at > ? AND by_registration = 0`,
	"insertCode": `INSERT INTO reset_codes (id, purpose, email_key, user_id, new_email, by_registration, code_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	// The attempt is counted before the code is compared, atomically, so parallel guesses cannot
	// exceed the limit. Only the newest code of an owner and purpose can match.
	"claimCode": `UPDATE reset_codes SET attempts = attempts + 1
		WHERE seq = (SELECT MAX(seq) FROM reset_codes WHERE email_key = ? AND purpose = ?)
		AND used_at IS NULL AND expires_at > ? AND attempts < ?
		RETURNING ` + codeColumns,
	"claimUserCode": `UPDATE reset_codes SET attempts = attempts + 1
		WHERE seq = (SELECT MAX(seq) FROM reset_codes WHERE user_id = ? AND purpose = ?)
		AND used_at IS NULL AND expires_at > ? AND attempts < ?
		RETURNING ` + codeColumns,
	"refundCode": `UPDATE reset_codes SET attempts = attempts - 1 WHERE id = ? AND attempts > 0`,
	"useCode":    `UPDATE reset_codes SET used_at = ? WHERE id = ? AND used_at IS NULL`,
	// A newer code replaces the older ones, so their emails, if not yet out, are not sent.
	"stopReplacedCodeMail": `UPDATE outbox SET dead_at = ?, payload = ?, last_error = 'replaced by a newer code'
		WHERE code_id IN (SELECT id FROM reset_codes WHERE email_key = ? AND purpose = ? AND id <> ?)
		AND sent_at IS NULL AND dead_at IS NULL`,
	"stopReplacedUserCodeMail": `UPDATE outbox SET dead_at = ?, payload = ?, last_error = 'replaced by a newer code'
		WHERE code_id IN (SELECT id FROM reset_codes WHERE user_id = ? AND purpose = ? AND id <> ?)
		AND sent_at IS NULL AND dead_at IS NULL`,

	// A hit is one upsert, counted in the key's open window or opening a new one, so that hits
	// arriving at once on any number of instances are each counted. SET reads the row as it was.
	"addHit": `INSERT INTO limits (key_hash, hits, window_ends) VALUES (?, 1, ?)
		ON CONFLICT (key_hash) DO UPDATE SET
			hits = CASE WHEN limits.window_ends <= ? THEN 1 ELSE limits.hits + 1 END,
			window_ends = CASE WHEN limits.window_ends <= ? THEN excluded.window_ends ELSE limits.window_ends END
		RETURNING hits, window_ends`,
	"hits":      `SELECT hits, window_ends FROM limits WHERE key_hash = ? AND window_ends > ?`,
	"clearHits": `DELETE FROM limits WHERE key_hash = ?`,
	"unhit":     `UPDATE limits SET hits = hits - 1 WHERE key_hash = ? AND window_ends > ? AND hits > 0`,

	"insertOutbox": `INSERT INTO outbox (payload, created_at, next_attempt_at, code_id, user_id) VALUES (?, ?, ?, ?, ?)`,
	// A claim leases due rows so that concurrent senders (other instances) skip them; a sender
	// that dies mid-send lets its lease lapse and the row is tried again. The most overdue go
	// first, in the due index's order, so a claim reads the rows it takes, not the whole backlog.
	"claimOutbox": `UPDATE outbox SET locked_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox
			WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ? AND locked_until <= ?
			ORDER BY next_attempt_at LIMIT ? {skip_locked})
		RETURNING id, payload, attempts`,
	"outboxSent":   `UPDATE outbox SET sent_at = ?, payload = ?, last_error = '' WHERE id = ?`,
	"outboxFailed": `UPDATE outbox SET next_attempt_at = ?, locked_until = 0, last_error = ? WHERE id = ?`,
	"outboxDead":   `UPDATE outbox SET dead_at = ?, locked_until = 0, last_error = ?, payload = ? WHERE id = ?`,

	"signingKeys":   `SELECT kid, generation, private_key, created_at, activates_at, COALESCE(retired_at, 0) FROM signing_keys ORDER BY generation DESC`,
	"addSigningKey": `INSERT INTO signing_keys (kid, generation, private_key, created_at, activates_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"refreshKeys":   `SELECT kid, generation, secret, created_at, activates_at, COALESCE(retired_at, 0) FROM refresh_keys ORDER BY generation DESC`,
	"addRefreshKey": `INSERT INTO refresh_keys (kid, generation, secret, created_at, activates_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"addSecret":     `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING`,
	"secret":        `SELECT value FROM secrets WHERE name = ?`,
	// Key material is replaced (sealed in place) only if it still holds the bytes the caller
	// read, so of instances starting together exactly one rewrites each row.
	"replaceSigningKey": `UPDATE signing_keys SET private_key = ? WHERE kid = ? AND private_key = ?`,
	"replaceRefreshKey": `UPDATE refresh_keys SET secret = ? WHERE kid = ? AND secret = ?`,
	"replaceSecret":     `UPDATE secrets SET value = ? WHERE name = ? AND value = ?`,

	// Two-factor sign-in. An enrolment is replaced only while unconfirmed; a step is taken only
	// if newer than the last, so of racing requests with one code exactly one wins.
	"startTOTP": `INSERT INTO totp (user_id, secret, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE totp.confirmed_at IS NULL`,
	"totp":        `SELECT secret, created_at, confirmed_at, last_step FROM totp WHERE user_id = ?`,
	"confirmTOTP": `UPDATE totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL AND last_step < ?`,
	"useTOTPStep": `UPDATE totp SET last_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`,
	"deleteTOTP":  `DELETE FROM totp WHERE user_id = ?`,
	"useRecoveryCode": `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL
		AND EXISTS (SELECT 1 FROM totp t WHERE t.user_id = recovery_codes.user_id AND t.confirmed_at IS NOT NULL)`,
	"deleteRecoveryCodes":  `DELETE FROM recovery_codes WHERE user_id = ?`,
	"insertRecoveryCode":   `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`,
	"deleteUserChallenges": `DELETE FROM mfa_challenges WHERE user_id = ?`,
	"insertChallenge": `INSERT INTO mfa_challenges (token_hash, user_id, amr, created_at, expires_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
	"claimChallenge": `UPDATE mfa_challenges SET attempts = attempts + 1
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?
		RETURNING user_id, amr, created_at, expires_at, password_changed_at`,
	"useChallenge":    `UPDATE mfa_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`,
	"purgeChallenges": `DELETE FROM mfa_challenges WHERE token_hash IN (SELECT token_hash FROM mfa_challenges WHERE expires_at < ? LIMIT ?)`,

	// Purging runs in small batches, each found through an index, so it never holds the
	// database for long. Deleting a sign-in deletes its refresh tokens on PostgreSQL (ON DELETE
	// CASCADE); on SQLite, since its migration 00005, they stay until purgeRefresh finds them
	// expired, refused meanwhile for want of their sign-in.
	"purgeExpiredSessions": `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < ? LIMIT ?)`,
	"purgeRevokedSessions": `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL LIMIT ?)`,
	"purgeRefresh":         `DELETE FROM refresh_tokens WHERE jti IN (SELECT jti FROM refresh_tokens WHERE expires_at < ? LIMIT ?)`,
	"purgeCodes":           `DELETE FROM reset_codes WHERE seq IN (SELECT seq FROM reset_codes WHERE created_at < ? LIMIT ?)`,
	"purgeSentMail":        `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at < ? LIMIT ?)`,
	"purgeDeadMail":        `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE dead_at < ? LIMIT ?)`,
	// The outer condition is checked again on a row that a hit renewed meanwhile, which stays.
	"purgeLimits": `DELETE FROM limits WHERE key_hash IN (SELECT key_hash FROM limits WHERE window_ends <= ? LIMIT ?)
		AND window_ends <= ?`,

	// The original service's tokens (legacy.go). A legacy refresh token is used once: the
	// conditional upsert matches only a token that is unused and not blacklisted, so of racing
	// requests one wins, and a token the dump did not record gets its row on first use.
	"userByLegacyID": `SELECT ` + userColumns + ` FROM users WHERE legacy_id = ?`,
	"legacyRefreshState": `SELECT t.legacy_user_id, t.used_at, COALESCE(t.session_id, ''),
		n.jti, n.session_id, n.user_id, n.key_id, n.issued_at, n.expires_at, n.used_at,
		s.id, s.revoked_at,
		EXISTS (SELECT 1 FROM legacy_blacklist b WHERE b.outstanding_pk = t.outstanding_pk)
		FROM legacy_tokens t
		LEFT JOIN refresh_tokens n ON n.jti = t.successor_jti
		LEFT JOIN sessions s ON s.id = t.session_id
		WHERE t.jti = ?`,
	"useLegacyRefresh": `INSERT INTO legacy_tokens (jti, legacy_user_id, expires_at, used_at, session_id, successor_jti)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET used_at = excluded.used_at, session_id = excluded.session_id,
		successor_jti = excluded.successor_jti
		WHERE legacy_tokens.used_at IS NULL AND legacy_tokens.legacy_user_id = excluded.legacy_user_id
		AND NOT EXISTS (SELECT 1 FROM legacy_blacklist b WHERE b.outstanding_pk = legacy_tokens.outstanding_pk)`,

	// The admin API (admin.go). Accounts are paged by keyset on (date_joined, id), through the
	// index of migration 00011 (00010 on PostgreSQL), so accounts added meanwhile shift nothing.
	// The search is a lower-case LIKE pattern with \ escaping; '' matches every account.
	"listUsers": `SELECT ` + userRecordColumns + ` FROM users
		WHERE (date_joined > ? OR (date_joined = ? AND id > ?))
		AND (? = '' OR email_key LIKE ? ESCAPE '\' OR LOWER(first_name) LIKE ? ESCAPE '\'
			OR LOWER(last_name) LIKE ? ESCAPE '\' OR LOWER(first_name || ' ' || last_name) LIKE ? ESCAPE '\')
		ORDER BY date_joined, id LIMIT ?`,
	"userRecord": `SELECT ` + userRecordColumns + ` FROM users WHERE id = ?`,
	// NULL leaves a field as it is.
	"updateUser": `UPDATE users SET first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name),
		address = COALESCE(?, address), phone = COALESCE(?, phone), email = COALESCE(?, email),
		email_key = COALESCE(?, email_key), is_active = COALESCE(?, is_active),
		email_verified = COALESCE(?, email_verified) WHERE id = ?`,
	"retireSigningKey": `UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL`,
	"retireRefreshKey": `UPDATE refresh_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL`,
	// The metrics' outbox gauges: unsent mail, read through its partial indexes.
	"outboxBacklog": `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`,
}

// userRecordColumns are userColumns, the profile's and the newest sign-in's start.
const userRecordColumns = userColumns + `,
	COALESCE((SELECT {string_agg}(provider, ',') FROM social_accounts a WHERE a.user_id = users.id), ''),
	(SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = users.id AND r.used_at IS NULL),
	COALESCE((SELECT MAX(s.created_at) FROM sessions s WHERE s.user_id = users.id), 0)`

const userColumns = `id, first_name, last_name, address, email, COALESCE(phone, ''), email_verified, is_active,
	date_joined, password_hash, password_changed_at,
	(SELECT COUNT(*) FROM totp t WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL), sessions_revoked_at`

const codeColumns = `id, purpose, email_key, COALESCE(user_id, ''), new_email, code_hash, created_at, expires_at`
