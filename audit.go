package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The audit log (the contract's "Operating it"): every security event the contract lists, kept in
// the store with its time, account, sign-in, client address, user agent and request id. An event
// that records a change is written in the change's transaction (the store methods take it), so a
// sign-in and its row commit together and a change that fails leaves none; an event that changes
// nothing (a failed sign-in) is written on its own, best effort.

// AuditEvent is one row of the audit log.
type AuditEvent struct {
	ID        string
	Time      time.Time
	Event     string // one of AuditEvents
	UserID    string // the account it is about; "" when none is known
	SessionID string // the sign-in it is about, when there is one
	IP        string
	UserAgent string
	RequestID string
	Detail    map[string]string // what else the log line says: for admin_action, "action" says which

	// The log line it goes with, written by logged once the change is made.
	logName string
	attrs   []any
}

// AuditEvents are the audit log's event names, as the contract lists them.
var AuditEvents = []string{"login", "login_failed", "login_locked", "refresh_reuse", "logout", "logout_all",
	"session_revoked", "reset_request", "reset_confirm", "password_change", "email_verified", "email_change",
	"mfa_enabled", "mfa_disabled", "social_link", "user_created", "user_disabled", "user_enabled", "user_deleted",
	"admin_action"}

// auditNames maps the security events the log names (Service.event) to the audit log's: the one
// place where the two vocabularies meet. A log event not here is not audited.
var auditNames = map[string]string{
	"login":           "login",
	"legacy_refresh":  "login", // a sign-in with a token of the original service
	"login_failed":    "login_failed",
	"mfa_code_failed": "login_failed", // a wrong second-factor code is a failed sign-in
	"login_locked":    "login_locked",
	"refresh_reuse":   "refresh_reuse",
	"logout":          "logout",
	"logout_all":      "logout_all",
	"session_revoked": "session_revoked",
	"reset_request":   "reset_request",
	"reset_confirm":   "reset_confirm",
	"password_change": "password_change",
	"email_verified":  "email_verified",
	"email_change":    "email_change",
	"mfa_enabled":     "mfa_enabled",
	"mfa_disabled":    "mfa_disabled",
	"social_link":     "social_link",
	"register":        "user_created",
	"account_delete":  "user_deleted",
	"admin_action":    "admin_action",
	// Not logged under their own names: the admin_action of the change carries them.
	"user_disabled": "user_disabled",
	"user_enabled":  "user_enabled",
	"user_deleted":  "user_deleted",
}

// auditEvent returns the audit row of the log event name with the log line's attrs (user_id and
// session_id fill their columns, the rest the detail) and the client of ctx; its Event is "" when
// name is not audited, and the store then writes nothing.
func (s *Service) auditEvent(ctx context.Context, name string, attrs ...any) AuditEvent {
	c := ClientFrom(ctx)
	ev := AuditEvent{Event: auditNames[name], logName: name, attrs: attrs}
	if ev.Event == "" {
		return ev
	}
	ev.ID, ev.Time = newID(), s.now()
	ev.IP, ev.RequestID, ev.SessionID = c.IP, c.RequestID, c.SessionID
	ev.UserAgent = truncate(dropControlCharacters(c.UserAgent), MaxUserAgentLength)
	ev.Detail = map[string]string{}
	for i := 0; i+1 < len(attrs); i += 2 {
		k, _ := attrs[i].(string)
		v := fmt.Sprint(attrs[i+1])
		switch k {
		case "user_id":
			ev.UserID = v
		case "session_id":
			ev.SessionID = v
		default:
			ev.Detail[k] = v
		}
	}
	return ev
}

// logged logs ev's line, as event does, once the change ev was written with is made.
func (s *Service) logged(ctx context.Context, level slog.Level, msg string, ev AuditEvent) {
	s.log.Log(ctx, level, msg, s.eventAttrs(ctx, ev.logName, ev.attrs)...)
}

// writeAudit writes events that record no change of their own, best effort: a failure is logged
// and never fails the request.
func (s *Service) writeAudit(ctx context.Context, ev AuditEvent) {
	if ev.Event == "" {
		return
	}
	if err := s.store.AddAuditEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("audit event not written", "event", ev.Event, "user_id", ev.UserID, "err", err)
	}
}

// AuditQuery is one page of the audit log as the store reads it, newest first: the events of
// UserID and of Event (each when set) at or after Since, before the keyset (BeforeTime,
// BeforeID), at most Limit of them.
type AuditQuery struct {
	UserID, Event string
	Since         time.Time
	BeforeTime    time.Time // with BeforeID, the last event of the previous page; zero: the first page
	BeforeID      string
	Limit         int
}

// AuditListRequest is GET /admin/audit's query as the client sent it, judged by AdminAudit.
type AuditListRequest struct {
	User, Event, Since, Limit, Cursor string
}

// AuditPage is one page of the audit log; Next is the cursor of the page after it, "" after the
// last.
type AuditPage struct {
	Events []AuditEvent
	Next   string
}

// AdminAudit returns a page of the audit log, newest first: the events of req.User (an account id,
// or an email, which names the account that has it now) and of req.Event when they are set, at or
// after req.Since (ISO 8601) when it is. Pages are keyed on the last event shown. A malformed
// limit (1 to MaxUserPageSize; default DefaultUserPageSize), cursor, since or user, or an event
// the log does not know, is a ValidationError.
func (s *Service) AdminAudit(ctx context.Context, req AuditListRequest) (AuditPage, error) {
	check := newFieldCheck(nil)
	q := AuditQuery{Limit: DefaultUserPageSize}
	q.Limit = pageLimit(check, req.Limit, q.Limit)
	if req.Cursor != "" {
		var ok bool
		if q.BeforeTime, q.BeforeID, ok = parseKeysetCursor(req.Cursor, isID); !ok {
			check.errs.Add("cursor", MsgInvalidCursor)
		}
	}
	if since := strings.TrimSpace(req.Since); since != "" {
		t, ok := parseISOTime(since)
		if !ok {
			check.errs.Add("since", "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
		}
		q.Since = t
	}
	if ev := strings.TrimSpace(req.Event); ev != "" {
		if !slices.Contains(AuditEvents, ev) {
			check.errs.Add("event", fmt.Sprintf("%q is not a valid choice.", ev))
		}
		q.Event = ev
	}
	user := strings.TrimSpace(req.User)
	switch {
	case user == "":
	case strings.Contains(user, "@"):
		u, err := s.store.UserByEmailKey(ctx, EmailKey(user))
		switch {
		case err == nil:
			q.UserID = u.ID
		case errors.Is(err, ErrNotFound):
			q.UserID = "-" // no account has it: no event is of it
		default:
			return AuditPage{}, err
		}
	case isUserID(user):
		q.UserID = user
	default:
		check.errs.Add("user", "Must be an account id or an email.")
	}
	if err := check.err(); err != nil {
		return AuditPage{}, err
	}
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	events, err := s.store.AuditEvents(ctx, q)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: events}
	if len(events) > want {
		page.Events = events[:want]
		last := page.Events[want-1]
		page.Next = keysetCursor(last.Time, last.ID)
	}
	return page, nil
}

// pageLimit judges a page size: a whole number from 1 to MaxUserPageSize, def when empty.
func pageLimit(check fieldCheck, raw string, def int) int {
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil:
		check.errs.Add("limit", MsgInvalidInteger)
	case n < 1:
		check.errs.Add("limit", "Ensure this value is greater than or equal to 1.")
	case n > MaxUserPageSize:
		check.errs.Add("limit", fmt.Sprintf("Ensure this value is less than or equal to %d.", MaxUserPageSize))
	default:
		return n
	}
	return def
}

// parseISOTime parses an ISO 8601 time: a date, or a date and time with an optional offset (UTC
// when none).
func parseISOTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
