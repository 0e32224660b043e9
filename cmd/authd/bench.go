package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/authd/authd/bench"
)

// runBench is `authd bench`: load against a running authd (or anything that speaks the contract).
// It reads no setting.
func runBench(ctx context.Context, args []string, _ environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8000", "the server to load; run it with AUTH_IP_RATE_LIMIT=0 and AUTH_LOGIN_FAILURE_LIMIT=0")
	workload := fs.String("workload", "verify", "one of "+strings.Join(bench.Workloads, ", "))
	conc := fs.Int("c", 32, "concurrent connections (closed loop: each sends its next request when the last is answered)")
	dur := fs.Duration("d", 10*time.Second, "how long to load")
	users := fs.Int("users", 50, "users prepared before timing starts")
	floor := fs.Bool("floor", true, "also measure this machine's ceilings: a minimal net/http handler (taking 2 s turns with the workload, for as long again), one password hash, one signature check")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	quiet := fs.Bool("q", false, "no progress lines")
	rate := fs.Int("rate", 0, "requests per second in all (0: as fast as the server answers)")
	watchURL := fs.String("watch", "", "the server's debug address (AUTH_DEBUG_ADDR) as a URL: sample its goroutines and heap every 10 s")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: authd bench [flags]\n\nLoads a server that speaks authd's contract and reports throughput and latency (docs/performance.md).\nIt reads no AUTH_* setting. authd bench seed fills a database for scale tests: authd bench seed -h.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("unknown command %q: authd -h lists the commands", "bench "+fs.Arg(0))}
	}
	cfg := bench.Config{URL: strings.TrimRight(*url, "/"), Workload: *workload, Concurrency: *conc, Duration: *dur, Users: *users, Floor: *floor, Rate: *rate, Watch: *watchURL}
	if !*quiet {
		cfg.Progress = stderr
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	printReport(stdout, rep)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if rep.Unexpected > 0 {
		return errors.New(fmt.Sprint(rep.Unexpected, " requests got an unexpected status"))
	}
	return nil
}

// seed is `authd bench seed`: synthetic users and refresh tokens straight into the database that
// AUTH_DATABASE_URL names, to check that costs do not grow with the data.
func seed(ctx context.Context, args []string, env environment, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd bench seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 1_000_000, "accounts to add")
	tokens := fs.Int("tokens", 10_000_000, "refresh tokens to add, ten to a sign-in")
	read := settingFlags(fs, env) // the server's settings, not listed in the usage
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: authd bench seed [-users n] [-tokens n]

Adds synthetic users and refresh tokens straight into the database, to check that costs do not
grow with the data (docs/performance.md).

  -users n
      accounts to add (default 1000000)
  -tokens n
      refresh tokens to add, ten to a sign-in (default 10000000)

It reads the same AUTH_* settings as the server (authd -h lists them), from the environment or as
flags: AUTH_DATABASE_URL names the database, which the server creates on first start (this command
creates none).
`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("unexpected argument %q: authd bench seed -h describes the command", fs.Arg(0))}
	}
	cfg, err := read()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	if err := store.Seed(ctx, *users, *tokens, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "seeded %d users and %d refresh tokens in %v\n", *users, *tokens, time.Since(start).Round(time.Second))
	return nil
}

func printReport(w io.Writer, r bench.Report) {
	line := func(res bench.Result) {
		codes := make([]string, 0, len(res.Statuses))
		for s, n := range res.Statuses {
			codes = append(codes, fmt.Sprintf("%s×%d", s, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(w, "%-9s c=%-4d %9.0f req/s   p50 %7.2f ms   p95 %7.2f ms   p99 %7.2f ms   %s\n",
			res.Workload, res.Concurrency, res.PerSecond, res.P50ms, res.P95ms, res.P99ms, strings.Join(codes, " "))
	}
	line(r.Result)
	if r.Floor != nil {
		line(*r.Floor)
		if r.OfHashCeiling > 0 { // a sign-in is a hash: next to the floor it would read "0%"
			fmt.Fprintf(w, "%s: %.0f%% of the hash ceiling", r.Workload, 100*r.OfHashCeiling)
		} else {
			fmt.Fprintf(w, "%s: %.0f%% of the floor", r.Workload, 100*r.OfFloor)
		}
		fmt.Fprintf(w, "; one password hash %.1f ms (ceiling %.0f/s on %d cores); one signature check %.1f µs\n",
			r.HashMs, r.HashesPerSec, r.Cores, r.SignatureUs)
	}
	if n := len(r.Samples); n > 0 {
		fmt.Fprintf(w, "server: %d goroutines and %.1f MiB heap at the start, %d and %.1f MiB at the end\n",
			r.Samples[0].Goroutines, r.Samples[0].HeapMB, r.Samples[n-1].Goroutines, r.Samples[n-1].HeapMB)
	}
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "FAIL: %d unexpected statuses\n", r.Unexpected)
	}
}
