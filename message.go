package auth

import (
	"fmt"
	"time"
)

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
