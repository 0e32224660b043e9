package bench

import (
	"context"
	"time"
)

// pacer lets the workers together send rate requests a second. The right to send accrues from
// the time elapsed, not from counting ticks, so a late tick on a busy machine never lowers the
// rate; at most a second's worth is banked while the workers are behind.
type pacer struct{ tokens chan struct{} }

// startPacer paces for d (and a second more, for the stragglers).
func startPacer(ctx context.Context, rate int, d time.Duration) *pacer {
	p := &pacer{tokens: make(chan struct{}, rate)}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, d+time.Second)
		defer cancel()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start, issued := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				for due := int(now.Sub(start).Seconds() * float64(rate)); issued < due; issued++ {
					select {
					case p.tokens <- struct{}{}:
					default: // the bank is full
					}
				}
			}
		}
	}()
	return p
}

// wait blocks until the caller may send; false if ctx ends first.
func (p *pacer) wait(ctx context.Context) bool {
	select {
	case <-p.tokens:
		return true
	case <-ctx.Done():
		return false
	}
}
