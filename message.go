package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outgoing is an email written to the outbox in the same transaction as the change it reports.
// Payload is sealed (encrypted and authenticated) so no code is readable in the database.
type Outgoing struct {
	Payload   []byte
	CreatedAt time.Time
	CodeID    string // the code it carries, if any: a newer code for the address stops it
	UserID    string // the account it is about: deleting the account deletes it unsent
}

// OutboxItem is a queued email as the sender claims it.
type OutboxItem struct {
	ID       int64
	Payload  []byte
	Attempts int // attempts so far, this one included
}

// Message is an email to send. Code repeats the code the text carries, if any, for the log
// mailer of development setups, which shows it in a field of its own.
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Code    string `json:"code,omitempty"`
}

// seal encrypts m for the outbox, as mail about the account userID.
func (s *Service) seal(userID string, m Message) *Outgoing {
	plain, _ := json.Marshal(m)
	nonce := randomBytes(s.sealer.NonceSize())
	return &Outgoing{Payload: s.sealer.Seal(nonce, nonce, plain, nil), CreatedAt: s.now(), UserID: userID}
}

// sealCode encrypts m, which carries code, for the outbox: a newer code of the same owner stops it.
func (s *Service) sealCode(userID string, code Code, m Message) *Outgoing {
	out := s.seal(userID, m)
	out.CodeID = code.ID
	return out
}

// OpenMessage decrypts an outbox payload written by this service (or another instance sharing
// the database).
func (s *Service) OpenMessage(payload []byte) (Message, error) {
	var m Message
	n := s.sealer.NonceSize()
	if len(payload) < n {
		return m, errors.New("outbox payload too short")
	}
	plain, err := s.sealer.Open(nil, payload[:n], payload[n:], nil)
	if err != nil {
		return m, fmt.Errorf("open outbox payload: %w", err)
	}
	return m, json.Unmarshal(plain, &m)
}

// The emails authd sends. Each plain-text body holds the code as its only run of six digits:
// no dates, ids or numbers other than the code. None holds text a requester typed, other than the
// address it goes to: anyone can make an email go to any address (registering it, asking for a
// code), so an email greets no one by a name someone else entered.

func resetMessage(to, code string, ttl time.Duration) Message {
	return Message{To: to, Subject: "Your password reset code", Code: code, Text: fmt.Sprintf(
		"Hello,\n\nYour password reset code is: %s\n\nIt expires in %s. If you did not ask to reset your password, ignore this email: your password has not changed.\n",
		code, minutes(ttl))}
}

func welcomeMessage(to, code string, ttl time.Duration) Message {
	return Message{To: to, Subject: "Set your password", Code: code, Text: fmt.Sprintf(
		"Hello,\n\nAn account was created with this email address. To set its password, use this code: %s\n\nIt expires in %s. If you did not ask for an account, ignore this email.\n",
		code, minutes(ttl))}
}

func verificationMessage(to, code string, ttl time.Duration) Message {
	return Message{To: to, Subject: "Verify your email address", Code: code, Text: fmt.Sprintf(
		"Hello,\n\nTo verify this email address, use this code: %s\n\nIt expires in %s. If you did not ask for this, ignore this email.\n",
		code, minutes(ttl))}
}

func emailChangeMessage(to, code string, ttl time.Duration) Message {
	return Message{To: to, Subject: "Confirm your new email address", Code: code, Text: fmt.Sprintf(
		"Hello,\n\nTo make this the email address of your account, use this code: %s\n\nIt expires in %s. If you did not ask for this, ignore this email: nothing will change.\n",
		code, minutes(ttl))}
}

// emailChangedMessage tells the old address where the account went, naming the new address only
// partly (MaskEmail): enough for the owner to recognise it, not a way to learn it.
func emailChangedMessage(to, newEmail string) Message {
	return Message{To: to, Subject: "Your email address was changed",
		Text: "Hello,\n\nThe email address of your account was changed to " + MaskEmail(newEmail) +
			". If this was not you, someone else may have your password: contact support.\n"}
}

func passwordChangedMessage(to string) Message {
	return Message{To: to, Subject: "Your password was changed",
		Text: "Hello,\n\nThe password of your account was just changed, and every device was signed out. If this was not you, reset your password now.\n"}
}

// minutes renders a code lifetime in words, never as digits that could be taken for the code.
func minutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
