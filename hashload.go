package auth

// InFlight returns how many password hashes run now, and how many callers wait for a slot: the
// metrics' hashing gauges.
func (h *Hasher) InFlight() (running, waiting int) {
	return len(h.slots), int(h.waiting.Load())
}

// HashLoad returns how many password hashes the service runs now and how many wait for a slot.
func (s *Service) HashLoad() (running, waiting int) { return s.hasher.InFlight() }
