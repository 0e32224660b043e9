package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAuditCommandWhileTheServerRuns(t *testing.T) {
	s := startServer(t, nil)
	base := "http://" + s.public
	const password = "a walk in the park"
	post(t, base+"/auth/register/", map[string]string{"first_name": "Walt", "last_name": "Whitman",
		"email": "walt@example.com", "phone_no": "+14155550132", "password": password})
	post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": password})
	post(t, base+"/auth/token/", map[string]string{"email": "walt@example.com", "password": "wrong"})

	out, err := s.cmd(t, "audit")
	if err != nil || !strings.HasPrefix(out, "TIME ") || !strings.Contains(out, "login_failed") || !strings.Contains(out, "user_created") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	out, err = s.cmd(t, "audit", "-user", "WALT@example.com", "-event", "login", "-json")
	var page struct {
		Results []map[string]any `json:"results"`
		Next    *string          `json:"next"`
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Results) != 1 || page.Next != nil {
		t.Fatalf("audit -json: %v\n%s", err, out)
	}
	ev := page.Results[0]
	for _, key := range []string{"id", "time", "event", "user_id", "sid", "ip", "user_agent", "request_id", "detail"} {
		if _, ok := ev[key]; !ok {
			t.Errorf("an event has no %q: %v", key, ev)
		}
	}
	if ev["event"] != "login" || ev["sid"] == nil || ev["ip"] != "127.0.0.1" || ev["request_id"] == "" {
		t.Errorf("login event: %v", ev)
	}
	// A page of one, then the next.
	out, err = s.cmd(t, "audit", "-limit", "1")
	if err != nil || !strings.Contains(out, "more: authd audit -cursor ") {
		t.Fatalf("audit -limit 1: %v\n%s", err, out)
	}
	cursor := strings.Fields(out[strings.Index(out, "-cursor ")+len("-cursor "):])[0]
	if out, err = s.cmd(t, "audit", "-limit", "1", "-cursor", cursor); err != nil || !strings.Contains(out, "login ") {
		t.Fatalf("the next page: %v\n%s", err, out)
	}
	if out, err = s.cmd(t, "audit", "-since", "2999-01-01", "-json"); err != nil || !strings.Contains(out, `"results": []`) {
		t.Errorf("audit -since the future: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"-event", "nope"}, {"-since", "soon"}, {"-limit", "0"}, {"-cursor", "x"}} {
		if _, err := s.cmd(t, append([]string{"audit"}, args...)...); err == nil {
			t.Errorf("audit %v: no error", args)
		}
	}
}
