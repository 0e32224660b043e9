package postgres

// queries are the statements only PostgreSQL runs (sqlstore.Dialect.Queries): each write of a
// hot path that SQLite does in a transaction of several statements is here one statement, a
// data-modifying CTE, so it costs one round trip and runs outside an explicit transaction. Their
// arguments are in the order sqlstore passes them (sqlstore/sessions.go).
var queries = map[string]string{
	// A refresh rotation: the token is used only if unused and its sign-in not revoked (of racing
	// requests exactly one matches used_at IS NULL; the others wait for its row lock, then find it
	// used), and only then are its successor inserted and the sign-in touched, as touchSession
	// does. The statement affects one row if it won, none if not.
	//
	// $1 now, $2 the successor's jti, $3 the used token's jti, $4–$8 the successor's session_id,
	// user_id, key_id, issued_at and expires_at, $9 the sign-in's expiry when moved (expires_at
	// plus the slack).
	"rotateRefresh": `WITH used AS (
			UPDATE refresh_tokens SET used_at = $1, successor_jti = $2
			WHERE jti = $3 AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL)
			RETURNING jti
		), touched AS (
			UPDATE sessions SET last_used_at = $1, refresh_expires_at = $8,
				expires_at = CASE WHEN expires_at < $8 THEN $9 ELSE expires_at END
			WHERE id = $4 AND EXISTS (SELECT 1 FROM used)
		)
		INSERT INTO refresh_tokens (jti, session_id, user_id, key_id, issued_at, expires_at)
		SELECT $2, $4, $5, $6, $7, $8 FROM used`,
	// A sign-in and its first refresh token, stored only if the user is active and its
	// credentials are still those the sign-in checked. FOR SHARE holds the user's row until the
	// statement commits, as it did the transaction of two: a reset either waits for this sign-in
	// (and then revokes it) or commits first (and then the row no longer matches: nothing is
	// inserted). The statement affects one row if the sign-in was stored, none if not.
	//
	// $1 the sign-in's id, $2 created_at, $3 its expiry (expires_at and refresh_expires_at),
	// $4 amr, $5 ip, $6 user_agent, $7 the user's id, $8 the password_changed_at it checked,
	// $9–$14 the token's jti, session_id, user_id, key_id, issued_at and expires_at.
	"createSession": `WITH signin AS (
			INSERT INTO sessions (id, user_id, created_at, expires_at, refresh_expires_at, amr, ip, user_agent)
			SELECT $1, id, $2, $3, $3, $4, $5, $6 FROM users
			WHERE id = $7 AND is_active = 1 AND password_changed_at = $8 FOR SHARE
			RETURNING id
		)
		INSERT INTO refresh_tokens (jti, session_id, user_id, key_id, issued_at, expires_at)
		SELECT $9, $10, $11, $12, $13, $14 FROM signin`,
}
