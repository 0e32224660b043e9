package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLegacySettings(t *testing.T) {
	for v, want := range map[string]time.Time{
		"2027-03-01":                time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		"2027-03-01T12:30:00+02:00": time.Date(2027, 3, 1, 10, 30, 0, 0, time.UTC),
		"":                          {},
	} {
		c, err := loadConfig(nil, envOf(map[string]string{"AUTH_LEGACY_JWT_UNTIL": v, "AUTH_LEGACY_JWT_SECRET": "s3cret-of-django"}), &bytes.Buffer{})
		if err != nil || !c.LegacyJWTUntil.Equal(want) || string(c.LegacyJWTSecret) != "s3cret-of-django" {
			t.Errorf("AUTH_LEGACY_JWT_UNTIL=%q: until %v, secret %q, err %v; want %v", v, c.LegacyJWTUntil, c.LegacyJWTSecret, err, want)
		}
	}
	for _, v := range []string{"2027-02-30", "01/03/2027", "tomorrow", "2027-03-01 00:00"} {
		_, err := loadConfig(nil, envOf(map[string]string{"AUTH_LEGACY_JWT_UNTIL": v, "AUTH_LEGACY_JWT_SECRET": "s3cret-of-django"}), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), "AUTH_LEGACY_JWT_UNTIL: ") || strings.Contains(err.Error(), "\n") ||
			strings.Contains(err.Error(), "s3cret") {
			t.Errorf("AUTH_LEGACY_JWT_UNTIL=%q: error %v, want one line naming it", v, err)
		}
	}
	if c, err := loadConfig(nil, envOf(nil), &bytes.Buffer{}); err != nil || c.LegacyJWTSecret != nil || !c.LegacyJWTUntil.IsZero() {
		t.Errorf("unset: secret %q, until %v, err %v; want off", c.LegacyJWTSecret, c.LegacyJWTUntil, err)
	}
	// The help shows no secret given in the environment.
	var out bytes.Buffer
	loadConfig([]string{"-h"}, envOf(map[string]string{"AUTH_LEGACY_JWT_SECRET": "s3cret-of-django"}), &out)
	if strings.Contains(out.String(), "s3cret") || !strings.Contains(out.String(), "AUTH_LEGACY_JWT_SECRET") {
		t.Errorf("help %q shows the secret or lacks the setting", out.String())
	}
}
