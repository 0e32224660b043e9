package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// watch samples the server's goroutines and heap every 10 s (and at the start and end) from
// its debug address, until the returned function is called.
func watch(base string, progress io.Writer) func() []Sample {
	if base == "" {
		return func() []Sample { return nil }
	}
	base = strings.TrimRight(base, "/")
	start := time.Now()
	var samples []Sample
	take := func() {
		s, err := sample(base)
		if err != nil {
			if progress != nil {
				fmt.Fprintf(progress, "watch: %v\n", err)
			}
			return
		}
		s.Seconds = time.Since(start).Seconds()
		samples = append(samples, s)
		if progress != nil {
			fmt.Fprintf(progress, "%6.0fs server: %d goroutines, %.1f MiB heap\n", s.Seconds, s.Goroutines, s.HeapMB)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		take()
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				take()
				return
			case <-tick.C:
				take()
			}
		}
	}()
	return func() []Sample { close(stop); <-done; return samples }
}

func sample(base string) (Sample, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	var s Sample
	res, err := c.Get(base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return s, err
	}
	line, _ := bufio.NewReader(res.Body).ReadString('\n') // "goroutine profile: total 12"
	res.Body.Close()
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &s.Goroutines); err != nil {
		return s, fmt.Errorf("goroutines: %q", line)
	}
	res, err = c.Get(base + "/debug/vars")
	if err != nil {
		return s, err
	}
	defer res.Body.Close()
	var vars struct {
		Memstats struct{ HeapAlloc uint64 } `json:"memstats"`
	}
	if err := json.NewDecoder(res.Body).Decode(&vars); err != nil {
		return s, err
	}
	s.HeapMB = float64(vars.Memstats.HeapAlloc) / (1 << 20)
	return s, nil
}
