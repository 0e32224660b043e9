package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedWriter records what it is given, and blocks each write until the test lets it through.
type gatedWriter struct {
	gate   chan struct{}
	mu     sync.Mutex
	writes [][]byte
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, bytes.Clone(p))
	return len(p), nil
}

func (g *gatedWriter) text() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return string(bytes.Join(g.writes, nil))
}

func TestLogWriterKeepsEveryLineInOrderAndBatchesWhileBusy(t *testing.T) {
	out := &gatedWriter{gate: make(chan struct{})}
	w := newLogWriter(out)
	var want strings.Builder
	for i := range 1000 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	close(out.gate) // the output was stuck during all of that: the lines waited, the writers did not
	w.Close()
	if got := out.text(); got != want.String() {
		t.Fatalf("lines lost or reordered: got %d bytes, want %d", len(got), want.Len())
	}
	if len(out.writes) > 2 {
		t.Errorf("%d writes for 1000 lines gathered while the output was busy, want at most 2", len(out.writes))
	}
	w.Write([]byte("after close\n"))
	if !strings.HasSuffix(out.text(), "line 999\nafter close\n") {
		t.Error("a line written after Close was lost")
	}
}

func TestLogWriterMakesWritersWaitWhenTheOutputFallsBehind(t *testing.T) {
	out := &gatedWriter{gate: make(chan struct{})}
	w := newLogWriter(out)
	line := bytes.Repeat([]byte("x"), 1<<10)
	wrote := make(chan int)
	go func() {
		n := 0
		for range 3 * maxPendingLog / len(line) {
			w.Write(line)
			n++
		}
		wrote <- n
	}()
	select {
	case n := <-wrote:
		t.Fatalf("%d KiB were accepted while the output was stuck, want at most about %d KiB", n, 2*maxPendingLog>>10)
	case <-time.After(200 * time.Millisecond):
	}
	close(out.gate)
	<-wrote
	w.Close()
	if got := len(out.text()); got != 3*maxPendingLog {
		t.Fatalf("%d bytes written, want %d", got, 3*maxPendingLog)
	}
}
