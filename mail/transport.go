package mail

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	auth "github.com/authd/authd"
)

// SMTP sends through an SMTP server: smtp:// upgrades with STARTTLS when the server offers it,
// smtps:// speaks TLS from the start.
type SMTP struct {
	from    string
	host    string
	options []gomail.Option
}

// NewSMTP parses an smtp:// or smtps:// URL (with optional user:password) and returns a
// transport sending as from. Every connection is bounded by timeout.
func NewSMTP(rawURL, from string, timeout time.Duration) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse SMTP URL: invalid URL")
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
	switch u.Scheme {
	case "smtp":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic), gomail.WithPort(portOr(u, 587)))
	case "smtps":
		opts = append(opts, gomail.WithSSL(), gomail.WithPort(portOr(u, 465)))
	default:
		return nil, fmt.Errorf("SMTP URL scheme %q: want smtp or smtps", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP URL has no host")
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTP{from: from, host: u.Hostname(), options: opts}, nil
}

func portOr(u *url.URL, def int) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	return def
}

// Send delivers m with a plain-text body.
func (t *SMTP) Send(ctx context.Context, messageID string, m auth.Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(t.from); err != nil {
		return fmt.Errorf("sender address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("recipient address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(messageID)
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	c, err := gomail.NewClient(t.host, t.options...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// Log writes emails to the log instead of sending them: for development, so the person running
// authd can read the code, which has a field of its own ("code"). It is the only place a code may
// appear in a log.
type Log struct{ Logger *slog.Logger }

// Send logs m, one line.
func (t Log) Send(_ context.Context, messageID string, m auth.Message) error {
	t.Logger.Info("email written to the log, not sent (AUTH_SMTP_URL is unset)", "event", "mail_logged",
		"message_id", messageID, "to", m.To, "subject", m.Subject, "code", m.Code, "body", m.Text)
	return nil
}

// reportsDelivery marks a transport whose Send already logs each email, so the sender does not
// log it again.
func (Log) reportsDelivery() {}
