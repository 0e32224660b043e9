package auth

import (
	"fmt"
	"time"
)

// The emails authd sends. Each plain-text body holds the code as its only run of six digits:
// no dates, ids or numbers other than the code.

func resetMessage(u User, code string, ttl time.Duration) Message {
	return Message{To: u.Email, Subject: "Your password reset code", Text: fmt.Sprintf(
		"Hello %s,\n\nYour password reset code is: %s\n\nIt expires in %s. If you did not ask to reset your password, ignore this email: your password has not changed.\n",
		u.FirstName, code, minutes(ttl))}
}

func welcomeMessage(u User, code string, ttl time.Duration) Message {
	return Message{To: u.Email, Subject: "Set your password", Text: fmt.Sprintf(
		"Hello %s,\n\nYour account was created. To set your password, use this code: %s\n\nIt expires in %s.\n",
		u.FirstName, code, minutes(ttl))}
}

func passwordChangedMessage(u User) Message {
	return Message{To: u.Email, Subject: "Your password was changed", Text: fmt.Sprintf(
		"Hello %s,\n\nThe password of your account was just changed, and every device was signed out. If this was not you, reset your password now.\n",
		u.FirstName)}
}

// minutes renders a code lifetime in words, never as digits that could be taken for the code.
func minutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
