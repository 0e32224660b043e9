package auth

import (
	"context"
	"log/slog"
)

// Client is who made a request, as the transport saw it. It rides in the context so that every
// security event is recorded with the address and request it came from.
type Client struct {
	IP        string // the address the limits use: the connection's, or a trusted proxy's X-Forwarded-For
	RequestID string
	UserAgent string
	SessionID string // the sign-in a signed-in request's access token names; "" otherwise
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the Client ctx carries, or the zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// event logs the security event name with the client that caused it and, when the audit log
// keeps it (auditNames), writes its row on its own, best effort. An event that records a change
// is written in the change's transaction instead: auditEvent, the store call, then logged.
func (s *Service) event(ctx context.Context, level slog.Level, msg, name string, attrs ...any) {
	s.log.Log(ctx, level, msg, s.eventAttrs(ctx, name, attrs)...)
	s.writeAudit(ctx, s.auditEvent(ctx, name, attrs...))
}

func (s *Service) eventAttrs(ctx context.Context, name string, attrs []any) []any {
	c := ClientFrom(ctx)
	return append([]any{"event", name, "client_ip", c.IP, "request_id", c.RequestID}, attrs...)
}
