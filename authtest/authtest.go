// Package authtest holds the parts tests share: a clock they move by hand and a real SMTP
// server that records what it receives.
package authtest

import (
	"bytes"
	"errors"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Clock is a time source that moves when told to, and by Tick at every reading, so that, as with
// real time, two readings are never equal and a later one is always later.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	Tick time.Duration
}

// NewClock returns a clock set to a fixed instant, ticking a microsecond per reading.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), Tick: time.Microsecond}
}

// Now returns the clock's time, then moves it by Tick.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now
	c.now = c.now.Add(c.Tick)
	return now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Mail is one message an SMTP server accepted.
type Mail struct {
	From, To  string
	MessageID string
	Subject   string
	Text      string
	Raw       string
}

// SMTPServer is a real SMTP server on a loopback port. It can be stopped and started again on
// the same port, to stand for an outage.
type SMTPServer struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	server   *smtp.Server
	received []Mail
	arrived  chan struct{}
}

// StartSMTP starts an SMTP server on a free loopback port; it stops when the test ends.
func StartSMTP(t testing.TB) *SMTPServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{t: t, addr: ln.Addr().String(), arrived: make(chan struct{}, 1000)}
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port.
func (s *SMTPServer) Addr() string { return s.addr }

// URL is the smtp:// URL for AUTH_SMTP_URL.
func (s *SMTPServer) URL() string { return "smtp://" + s.addr }

func (s *SMTPServer) serve(ln net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the server: connections are refused until Start.
func (s *SMTPServer) Stop() {
	s.mu.Lock()
	srv := s.server
	s.server = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start listens again on the same port.
func (s *SMTPServer) Start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// Received returns a copy of every message accepted so far.
func (s *SMTPServer) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.received...)
}

// WaitFor waits until n messages in all have arrived, failing the test after 10 s.
func (s *SMTPServer) WaitFor(n int) []Mail {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("SMTP server received %d messages, want %d", len(s.Received()), n)
		}
	}
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// Code returns the only run of six digits in a message's text, failing the test when there
// is not exactly one.
func Code(t testing.TB, m Mail) string {
	t.Helper()
	runs := regexp.MustCompile(`\d{6,}`).FindAllString(m.Text, -1)
	if len(runs) != 1 || !sixDigits.MatchString(runs[0]) {
		t.Fatalf("want exactly one run of six digits in %q, found %q", m.Text, runs)
	}
	return runs[0]
}

type backend struct{ s *SMTPServer }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s        *SMTPServer
	from, to string
}

func (x *session) Reset()        {}
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = to
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return errors.New("unparsable message")
	}
	body, _ := io.ReadAll(msg.Body)
	text := string(body)
	if strings.Contains(strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")), "quoted-printable") {
		text = decodeQP(text)
	}
	m := Mail{From: x.from, To: x.to, MessageID: msg.Header.Get("Message-ID"), Subject: msg.Header.Get("Subject"),
		Text: text, Raw: string(raw)}
	x.s.mu.Lock()
	x.s.received = append(x.s.received, m)
	x.s.mu.Unlock()
	x.s.arrived <- struct{}{}
	return nil
}
func decodeQP(s string) string {
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(s)))
	if err != nil {
		return s
	}
	return string(b)
}

// Buffer is a bytes.Buffer that several goroutines may write to: a log under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
