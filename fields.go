package auth

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Field limits, in characters as received. Every flow that takes the field checks it against
// the same limit, with the same message (TooLong).
const (
	MaxNameLength     = 150
	MaxAddressLength  = 255
	MaxEmailLength    = 254
	MaxPhoneLength    = 128
	MaxCodeLength     = 64
	MaxPasswordLength = 1024 // a huge password must not make hashing a denial of service
)

// TooLong is the contract's message for a value over its limit.
func TooLong(limit int) string {
	return fmt.Sprintf("Ensure this field has no more than %d characters.", limit)
}

// fieldCheck gathers the problems of one request's fields, in Django REST framework's order,
// together with those the transport found first (found: absent, null, not a string, holding a
// NUL or a lone surrogate).
//
// The transport passes its problems in, rather than the flow returning its own for the handler to
// merge: the order within a field interleaves the two (the length comes before a NUL, a NUL stops
// the format checks), so only one place can put them together, and it is here, once.
type fieldCheck struct {
	errs  ValidationError
	found ValidationError
}

func newFieldCheck(found ValidationError) fieldCheck {
	errs := ValidationError{}
	for f, msgs := range found {
		errs[f] = slices.Clone(msgs)
	}
	return fieldCheck{errs: errs, found: maps.Clone(found)}
}

// text checks a field's value against its limit, and reports whether it may be judged further:
// it is not empty, and neither the transport nor the limit refused it. An empty value is
// "required" for a required field, unless the transport already said why it is empty.
func (c fieldCheck) text(field, value string, limit int, required bool) bool {
	found := c.found[field]
	if value == "" {
		if required && len(found) == 0 {
			c.errs.Add(field, MsgRequired)
		}
		return false
	}
	// Rebuilt in order: the limit first, then what the transport found in the text.
	delete(c.errs, field)
	if utf8.RuneCountInString(value) > limit {
		c.errs.Add(field, TooLong(limit))
	}
	for _, msg := range found {
		c.errs.Add(field, msg)
	}
	return len(c.errs[field]) == 0
}

// err returns every problem found, or nil.
func (c fieldCheck) err() error { return c.errs.Err() }

// truncate returns s as valid UTF-8 cut to at most limit characters.
func truncate(s string, limit int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit])
}
