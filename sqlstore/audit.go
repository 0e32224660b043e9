package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"

	auth "github.com/authd/authd"
)

// The audit log's store methods (auth.Store, "The audit log").

// auditQueries are the audit log's statements. The list has one statement per filter, so that
// each is planned on its own index: (occurred_at, id), (user_id, occurred_at, id) or (event,
// occurred_at, id). Newest first, before the keyset (the last event of the previous page).
var auditQueries = map[string]string{
	"insertAudit": `INSERT INTO audit_events (id, occurred_at, event, user_id, sid, ip, user_agent, request_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"listAudit":          auditList(""),
	"listAuditUser":      auditList("user_id = ? AND "),
	"listAuditEvent":     auditList("event = ? AND "),
	"listAuditUserEvent": auditList("user_id = ? AND event = ? AND "),
	"purgeAudit":         `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < ? LIMIT ?)`,
}

func auditList(filter string) string {
	return `SELECT id, occurred_at, event, user_id, sid, ip, user_agent, request_id, detail FROM audit_events
		WHERE ` + filter + `occurred_at >= ? AND (occurred_at < ? OR (occurred_at = ? AND id < ?))
		ORDER BY occurred_at DESC, id DESC LIMIT ?`
}

func init() {
	for name, q := range auditQueries {
		queries[name] = q
	}
}

// insertAudit writes the events (those with an Event) inside tx.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, events []auth.AuditEvent) error {
	for _, ev := range events {
		if ev.Event == "" {
			continue
		}
		detail, err := json.Marshal(ev.Detail)
		if err != nil {
			return err
		}
		if ev.Detail == nil {
			detail = []byte("{}")
		}
		if _, err := s.exec(ctx, tx, "insertAudit", ev.ID, micros(ev.Time), ev.Event, ev.UserID, ev.SessionID, ev.IP,
			ev.UserAgent, ev.RequestID, string(detail)); err != nil {
			return err
		}
	}
	return nil
}

// audited runs fn, a change of one statement, on its own when there is no event to write, and
// otherwise in a transaction with the events.
func (s *Store) audited(ctx context.Context, events []auth.AuditEvent, fn func(tx *sql.Tx) error) error {
	if !hasAudit(events) {
		return s.wrap(fn(nil))
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, events)
	})
}

func hasAudit(events []auth.AuditEvent) bool {
	for _, ev := range events {
		if ev.Event != "" {
			return true
		}
	}
	return false
}

// AddAuditEvent writes an event that records no change of its own.
func (s *Store) AddAuditEvent(ctx context.Context, ev auth.AuditEvent) error {
	return s.wrap(s.insertAudit(ctx, nil, []auth.AuditEvent{ev}))
}

// AuditEvents returns the events matching q, newest first, before q's keyset.
func (s *Store) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]auth.AuditEvent, error) {
	before, beforeID := int64(math.MaxInt64), ""
	if q.BeforeID != "" {
		before, beforeID = q.BeforeTime.UnixMicro(), q.BeforeID
	}
	name, args := "listAudit", []any{}
	switch {
	case q.UserID != "" && q.Event != "":
		name, args = "listAuditUserEvent", []any{q.UserID, q.Event}
	case q.UserID != "":
		name, args = "listAuditUser", []any{q.UserID}
	case q.Event != "":
		name, args = "listAuditEvent", []any{q.Event}
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		since = q.Since.UnixMicro()
	}
	rows, err := s.stmt[name].QueryContext(ctx, append(args, since, before, before, beforeID, q.Limit)...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := []auth.AuditEvent{}
	for rows.Next() {
		var ev auth.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&ev.ID, &at, &ev.Event, &ev.UserID, &ev.SessionID, &ev.IP, &ev.UserAgent, &ev.RequestID, &detail); err != nil {
			return nil, s.wrap(err)
		}
		ev.Time = fromMicros(at)
		ev.Detail = map[string]string{}
		if err := json.Unmarshal([]byte(detail), &ev.Detail); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, s.wrap(rows.Err())
}

// inAuditedTx is inTx with the events written after fn, in its transaction.
func (s *Store) inAuditedTx(ctx context.Context, events []auth.AuditEvent, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, events)
	})
}
