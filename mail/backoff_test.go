package mail

import (
	"log/slog"
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterAndIsCapped(t *testing.T) {
	s := NewSender(nil, nil, nil, nil, slog.New(slog.DiscardHandler))
	for attempt, base := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 4: 40 * time.Second, 30: 10 * time.Minute} {
		for range 50 {
			if d := s.backoff(attempt); d < base/2 || d > base {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
}
