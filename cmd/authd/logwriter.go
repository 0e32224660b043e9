package main

import (
	"io"
	"sync"
)

// logWriter is where the log goes. slog writes each record while holding its handler's lock, so
// writing straight to stdout made every request wait its turn for a write system call. Records
// are appended to a buffer instead, and one goroutine writes whatever gathered while its previous
// write was under way. There is no timer: on an idle service a line is written at once, on a busy
// one a single write carries many lines. At most maxPendingLog bytes wait; past that, writers
// wait for the output, as they did before.
type logWriter struct {
	out     io.Writer
	mu      sync.Mutex
	changed sync.Cond // lines added, lines taken, or closed
	pending []byte
	closed  bool
	done    chan struct{} // closed once everything pending is written
}

const maxPendingLog = 1 << 20

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, done: make(chan struct{})}
	w.changed.L = &w.mu
	go w.run()
	return w
}

func (w *logWriter) run() {
	defer close(w.done)
	var spare []byte
	w.mu.Lock()
	for {
		for len(w.pending) == 0 && !w.closed {
			w.changed.Wait()
		}
		if len(w.pending) == 0 {
			w.mu.Unlock()
			return
		}
		batch := w.pending
		w.pending = spare[:0]
		w.changed.Broadcast()
		w.mu.Unlock()
		w.out.Write(batch)
		spare = batch
		w.mu.Lock()
	}
}

// Write queues p, a whole record; slog never splits one.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.pending) >= maxPendingLog && !w.closed {
		w.changed.Wait()
	}
	if w.closed { // after Close: straight through, once what came before is out
		w.mu.Unlock()
		<-w.done
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	w.changed.Broadcast()
	w.mu.Unlock()
	return len(p), nil
}

// Close writes out everything pending.
func (w *logWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.changed.Broadcast()
	w.mu.Unlock()
	<-w.done
	return nil
}
