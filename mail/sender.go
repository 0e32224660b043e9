// Package mail delivers authd's emails: a background sender drains the durable outbox the
// service writes to, through SMTP or, in development, the log.
package mail

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	auth "github.com/authd/authd"
)

// Outbox is the queue of emails the sender drains; the SQL store implements it.
type Outbox interface {
	ClaimOutbox(ctx context.Context, now, leaseUntil time.Time, limit int) ([]auth.OutboxItem, error)
	MarkSent(ctx context.Context, id int64, now time.Time) error
	MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error
	MarkDead(ctx context.Context, id int64, now time.Time, reason string) error
}

// Transport sends one email. messageID is stable for an outbox row, so a receiver can drop the
// duplicate that a crash between sending and recording can cause.
type Transport interface {
	Send(ctx context.Context, messageID string, m auth.Message) error
}

// Sender drains the outbox: it sends what is due, retries failures with exponential backoff and
// jitter, and gives up on an email after MaxAttempts.
type Sender struct {
	Outbox    Outbox
	Transport Transport
	Open      func(payload []byte) (auth.Message, error) // decrypts a payload
	Now       func() time.Time
	Log       *slog.Logger

	Poll        time.Duration // how often to look for due mail without being woken
	Lease       time.Duration // how long a claimed email is reserved for this sender
	SendTimeout time.Duration
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	MaxAttempts int

	wake Wake
}

// Wake tells a Sender there is mail to look at. It is made first and given to both sides: the
// Service, which writes mail (auth.Deps.Mailed is its Notify), and the Sender, which opens mail
// with the Service's key; so each is built once the other's part exists, and neither waits.
type Wake chan struct{}

// NewWake returns a Wake for one Sender.
func NewWake() Wake { return make(Wake, 1) }

// Notify asks the sender to look at the outbox now. It never blocks.
func (w Wake) Notify() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// NewSender returns a Sender woken by wake (a new one if nil), with the defaults: poll every 2 s,
// backoff from 5 s doubling to 10 min, 12 attempts (about an hour and a half of retrying).
func NewSender(o Outbox, t Transport, open func([]byte) (auth.Message, error), wake Wake, log *slog.Logger) *Sender {
	if wake == nil {
		wake = NewWake()
	}
	return &Sender{Outbox: o, Transport: t, Open: open, Now: time.Now, Log: log,
		Poll: 2 * time.Second, Lease: 2 * time.Minute, SendTimeout: 30 * time.Second,
		BaseBackoff: 5 * time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 12,
		wake: wake}
}

// Wake asks the sender to look at the outbox now. It never blocks.
func (s *Sender) Wake() { s.wake.Notify() }

// Run sends mail until ctx is done, then finishes the email in hand and returns. Emails not yet
// sent stay in the outbox for the next start (or another instance).
func (s *Sender) Run(ctx context.Context) {
	tick := time.NewTicker(s.Poll)
	defer tick.Stop()
	for {
		s.Drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// Drain sends every email that is due now, batch by batch, and returns how many it sent.
func (s *Sender) Drain(ctx context.Context) int {
	sent := 0
	for ctx.Err() == nil {
		now := s.Now()
		// One at a time: an email claimed is an email going out, so a code replaced while the
		// email before it is being sent is stopped in time (a batch would still carry it).
		items, err := s.Outbox.ClaimOutbox(ctx, now, now.Add(s.Lease), 1)
		if err != nil {
			s.Log.Error("outbox claim failed", "err", err)
			return sent
		}
		if len(items) == 0 {
			return sent
		}
		for _, it := range items {
			if s.deliver(context.WithoutCancel(ctx), it) {
				sent++
			}
		}
	}
	return sent
}

func (s *Sender) deliver(ctx context.Context, it auth.OutboxItem) bool {
	m, err := s.Open(it.Payload)
	if err != nil {
		s.Log.Error("outbox email unreadable: given up", "event", "mail_dead", "outbox_id", it.ID, "err", err)
		s.record(s.Outbox.MarkDead(ctx, it.ID, s.Now(), "unreadable payload"))
		return false
	}
	sendCtx, cancel := context.WithTimeout(ctx, s.SendTimeout)
	err = s.Transport.Send(sendCtx, fmt.Sprintf("authd-outbox-%d@authd", it.ID), m)
	cancel()
	now := s.Now()
	if err == nil {
		if _, logged := s.Transport.(interface{ reportsDelivery() }); !logged {
			s.Log.Info("email sent", "event", "mail_sent", "outbox_id", it.ID, "attempt", it.Attempts)
		}
		s.record(s.Outbox.MarkSent(ctx, it.ID, now))
		return true
	}
	reason := err.Error()
	if it.Attempts >= s.MaxAttempts {
		s.Log.Error("email undeliverable: given up", "event", "mail_dead", "outbox_id", it.ID, "attempts", it.Attempts, "err", reason)
		s.record(s.Outbox.MarkDead(ctx, it.ID, now, reason))
		return false
	}
	next := now.Add(s.backoff(it.Attempts))
	s.Log.Warn("email send failed: will retry", "event", "mail_retry", "outbox_id", it.ID, "attempt", it.Attempts, "next", next, "err", reason)
	s.record(s.Outbox.MarkRetry(ctx, it.ID, next, reason))
	return false
}

// backoff is BaseBackoff doubled per attempt, capped at MaxBackoff, with "equal jitter": between
// half and all of it, so instances that failed together do not retry together.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.BaseBackoff
	for i := 1; i < attempt && d < s.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (s *Sender) record(err error) {
	if err != nil {
		s.Log.Error("outbox update failed", "err", err)
	}
}
