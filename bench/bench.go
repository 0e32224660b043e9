// Package bench is authd's load tool: a closed-loop load generator for any server that speaks
// the contract, which also measures this machine's own ceilings in the same run, so that results
// read as ratios that hold on a noisy machine.
package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	auth "github.com/authd/authd"
)

// Workloads the tool runs.
var Workloads = []string{"register", "login", "refresh", "verify", "mixed"}

// Config is one run.
type Config struct {
	URL         string
	Workload    string
	Concurrency int
	Duration    time.Duration
	Users       int           // prepared before timing starts
	Floor       bool          // also measure the in-process net/http floor and crypto costs
	Progress    io.Writer     // a line a second, or per turn with the floor; nil for none
	Rate        int           // requests per second in all; 0 is as fast as answers come (closed loop)
	Watch       string        // the server's AUTH_DEBUG_ADDR URL: sample its goroutines and heap
	Turn        time.Duration // with Floor, unpaced: how long each runs before the other's turn (default 2 s)
}

// Sample is the server's state at one moment of a watched run.
type Sample struct {
	Seconds    float64 `json:"seconds"`
	Goroutines int     `json:"goroutines"`
	HeapMB     float64 `json:"heap_mb"`
}

// Result is what a run measured.
type Result struct {
	Workload    string         `json:"workload"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	PerSecond   float64        `json:"requests_per_second"`
	P50ms       float64        `json:"p50_ms"`
	P95ms       float64        `json:"p95_ms"`
	P99ms       float64        `json:"p99_ms"`
	Statuses    map[string]int `json:"statuses"`
	Unexpected  int            `json:"unexpected"`
	Samples     []Sample       `json:"server_samples,omitempty"`
}

// Report is a run with, when asked for, the machine's ceilings.
type Report struct {
	Result
	Floor         *Result `json:"floor,omitempty"`
	OfFloor       float64 `json:"fraction_of_floor,omitempty"`
	HashMs        float64 `json:"password_hash_ms,omitempty"`
	HashesPerSec  float64 `json:"hash_ceiling_per_second,omitempty"` // cores ÷ one hash's time
	OfHashCeiling float64 `json:"fraction_of_hash_ceiling,omitempty"`
	SignatureUs   float64 `json:"signature_check_us,omitempty"`
	Cores         int     `json:"cores"`
}

// op is one request of a workload: it returns the status, and whether it was the expected one.
type op func(ctx context.Context) (status int, ok bool)

// Run prepares cfg.Users users, runs the workload, and measures the floor if asked.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if !slices.Contains(Workloads, cfg.Workload) {
		return Report{}, fmt.Errorf("unknown workload %q (want one of %v)", cfg.Workload, Workloads)
	}
	cfg.Concurrency, cfg.Users = max(1, cfg.Concurrency), max(1, cfg.Users)
	c := newClient(cfg.URL, cfg.Concurrency)
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preparing %d users and %d sessions...\n", cfg.Users, cfg.Concurrency)
	}
	ops, err := c.prepare(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	var floorOps []op
	if cfg.Floor {
		var stop func()
		if floorOps, stop, err = startFloor(cfg.Concurrency); err != nil {
			return Report{}, err
		}
		defer stop()
	}
	stopWatch := watch(cfg.Watch, cfg.Progress)
	work, floor := &tally{}, &tally{}
	if cfg.Turn <= 0 {
		cfg.Turn = 2 * time.Second
	}
	if cfg.Floor && cfg.Rate == 0 {
		// Closed loop: the workload and the floor take turns, a stretch each, so that whatever
		// else the machine is doing weighs on both alike and their ratio holds.
		for work.elapsed < cfg.Duration && ctx.Err() == nil {
			d := min(cfg.Turn, cfg.Duration-work.elapsed)
			w, f := work.requests(), floor.requests()
			drive(ctx, cfg.Concurrency, d, ops, nil, nil, work)
			drive(ctx, cfg.Concurrency, d, floorOps, nil, nil, floor)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "%6.0fs %10d requests   %s %8.0f/s   floor %8.0f/s\n", work.elapsed.Seconds(),
					work.requests(), cfg.Workload, float64(work.requests()-w)/d.Seconds(), float64(floor.requests()-f)/d.Seconds())
			}
		}
	} else {
		var pace *pacer
		if cfg.Rate > 0 {
			pace = startPacer(ctx, cfg.Rate, cfg.Duration)
		}
		drive(ctx, cfg.Concurrency, cfg.Duration, ops, pace, cfg.Progress, work)
	}
	rep := Report{Result: work.result(cfg.Workload, cfg.Concurrency), Cores: runtimeCores()}
	rep.Samples = stopWatch()
	if cfg.Floor {
		if cfg.Rate > 0 { // paced: the floor is the most the machine can do, so it runs unpaced after
			if cfg.Progress != nil {
				fmt.Fprintln(cfg.Progress, "measuring the floor (a minimal net/http JSON handler in this process)...")
			}
			drive(ctx, cfg.Concurrency, cfg.Duration, floorOps, nil, cfg.Progress, floor)
		}
		f := floor.result("floor", cfg.Concurrency)
		rep.Floor = &f
		if f.PerSecond > 0 { // a run cut short may have no floor to compare with
			rep.OfFloor = rep.PerSecond / f.PerSecond
		}
		rep.HashMs, rep.SignatureUs = hashCost(), signatureCost()
		rep.HashesPerSec = float64(rep.Cores) / (rep.HashMs / 1000)
		if cfg.Workload == "login" || cfg.Workload == "register" { // each request is one hash
			rep.OfHashCeiling = rep.PerSecond / rep.HashesPerSec
		}
	}
	return rep, nil
}

// tally is what drive measured, over one or more stretches of a run.
type tally struct {
	latencies  []time.Duration
	statuses   map[int]int
	unexpected int
	elapsed    time.Duration
}

func (t *tally) requests() int { return len(t.latencies) }

func (t *tally) result(name string, workers int) Result {
	r := Result{Workload: name, Concurrency: workers, Seconds: t.elapsed.Seconds(), Statuses: map[string]int{},
		Requests: len(t.latencies), Unexpected: t.unexpected}
	for s, n := range t.statuses {
		r.Statuses[fmt.Sprint(s)] += n
	}
	sorted := slices.Clone(t.latencies)
	slices.Sort(sorted)
	if t.elapsed > 0 {
		r.PerSecond = float64(len(sorted)) / t.elapsed.Seconds()
	}
	r.P50ms, r.P95ms, r.P99ms = quantile(sorted, 0.50), quantile(sorted, 0.95), quantile(sorted, 0.99)
	return r
}

// drive runs one op per worker in a closed loop for d and adds what it measured to t. With a
// pacer, each worker waits for its turn to send; latency runs from the send.
func drive(ctx context.Context, workers int, d time.Duration, ops []op, pace *pacer, progress io.Writer, t *tally) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	lat := make([][]time.Duration, workers)
	statuses := make([]map[int]int, workers)
	unexpected := make([]int, workers)
	start := time.Now()
	stopProgress := reportProgress(progress, &done, start)
	var wg sync.WaitGroup
	for w := range workers {
		statuses[w] = map[int]int{}
		wg.Go(func() {
			for ctx.Err() == nil {
				if pace != nil && !pace.wait(ctx) {
					break
				}
				t := time.Now()
				status, ok := ops[w](ctx)
				if ctx.Err() != nil && status == 0 {
					break // cut off by the end of the run
				}
				lat[w] = append(lat[w], time.Since(t))
				statuses[w][status]++
				if !ok {
					unexpected[w]++
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stopProgress()
	t.elapsed += time.Since(start)
	if t.statuses == nil {
		t.statuses = map[int]int{}
	}
	for w := range workers {
		t.latencies = append(t.latencies, lat[w]...)
		for s, n := range statuses[w] {
			t.statuses[s] += n
		}
		t.unexpected += unexpected[w]
	}
}

func reportProgress(w io.Writer, done *atomic.Int64, start time.Time) func() {
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n := done.Load()
				fmt.Fprintf(w, "%6.0fs %10d requests %10d/s\n", time.Since(start).Seconds(), n, n-last)
				last = n
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Microseconds()) / 1000
}

// startFloor serves a minimal net/http JSON handler in this process on loopback, and returns
// one op per worker that calls it as the workload calls authd: the most any HTTP service can do
// on this machine.
func startFloor(workers int) ([]op, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
			http.Error(w, `{"detail":"bad"}`, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})}
	go srv.Serve(ln)
	c := newClient("http://"+ln.Addr().String(), workers)
	body := []byte(`{"access_token":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`)
	ops := make([]op, workers)
	for i := range ops {
		ops[i] = func(ctx context.Context) (int, bool) {
			s, _ := c.post(ctx, "/floor", body)
			return s, s == 200
		}
	}
	return ops, func() { srv.Close() }, nil
}

// hashCost is one password hash with authd's parameters, in milliseconds: the median of 5 back
// to back, as the server hashes under load. Not the least of them, which a quiet spell on a
// shared machine pulls down to 19 ms against a usual 22 (the server's own profile under the
// login workload: 1.73 cores of Argon2 for 77 sign-ins a second, 22.5 ms each).
func hashCost() float64 {
	h := auth.NewHasher(auth.DefaultHashParams, 1, time.Minute)
	var runs []float64
	for range 5 {
		t := time.Now()
		h.Hash(context.Background(), "benchmark password")
		runs = append(runs, float64(time.Since(t).Microseconds())/1000)
	}
	slices.Sort(runs)
	return runs[2]
}

// signatureCost is one Ed25519 signature check, in microseconds.
func signatureCost() float64 {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 300)
	sig := ed25519.Sign(priv, msg)
	const n = 2000
	t := time.Now()
	for range n {
		ed25519.Verify(pub, msg, sig)
	}
	return float64(time.Since(t).Nanoseconds()) / n / 1000
}
