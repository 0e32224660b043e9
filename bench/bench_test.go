package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"expvar"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/bench"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/sqlite"
)

// server is a real authd on SQLite, with cheap password hashing so the test is quick.
func server(t *testing.T) string {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := auth.New(ctx, auth.DefaultConfig(), auth.Deps{Store: store,
		Hasher: auth.NewHasher(auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, 4, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewHandler(svc, httpapi.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestEveryWorkloadRuns(t *testing.T) {
	url := server(t)
	for _, w := range bench.Workloads {
		t.Run(w, func(t *testing.T) {
			rep, err := bench.Run(context.Background(), bench.Config{URL: url, Workload: w, Concurrency: 3, Duration: 300 * time.Millisecond, Users: 3})
			if err != nil {
				t.Fatal(err)
			}
			ok := map[string]string{"register": "201"}[w]
			if ok == "" {
				ok = "200"
			}
			if rep.Requests == 0 || rep.Unexpected != 0 || rep.Statuses[ok] != rep.Requests {
				t.Fatalf("report %+v: every request should have got %s", rep.Result, ok)
			}
			if rep.PerSecond <= 0 || rep.P50ms <= 0 || rep.P99ms < rep.P50ms {
				t.Fatalf("implausible figures %+v", rep.Result)
			}
		})
	}
}

func TestFloorAndCeilings(t *testing.T) {
	var progress bytes.Buffer
	rep, err := bench.Run(context.Background(), bench.Config{URL: server(t), Workload: "verify", Concurrency: 2,
		Duration: 600 * time.Millisecond, Turn: 200 * time.Millisecond, Users: 1, Floor: true, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	// The workload and the floor took turns: three of 200 ms each, a progress line for each.
	if turns := strings.Count(progress.String(), "floor "); turns != 3 {
		t.Fatalf("%d turns, want 3:\n%s", turns, progress.String())
	}
	// Each ran for its turns; the bounds are loose, since a busy machine (CI's two cores run other
	// tests at once) stretches or clips a turn by tens of milliseconds.
	if rep.Floor == nil || rep.Floor.Seconds < 0.3 || rep.Floor.Seconds > 3 || rep.Seconds < 0.3 {
		t.Fatalf("workload ran %.2f s and floor %v, want about 0.6 s each", rep.Seconds, rep.Floor)
	}
	if rep.Floor == nil || rep.Floor.Requests == 0 || rep.Floor.Unexpected != 0 || rep.OfFloor <= 0 {
		t.Fatalf("floor %+v", rep.Floor)
	}
	if rep.HashMs <= 0 || rep.SignatureUs <= 0 || rep.HashesPerSec <= 0 {
		t.Fatalf("ceilings: hash %v ms, signature %v µs", rep.HashMs, rep.SignatureUs)
	}
	if rep.OfHashCeiling != 0 {
		t.Fatalf("verify hashes no password, yet is given as %.0f%% of the hash ceiling", 100*rep.OfHashCeiling)
	}
}

func TestUnreachableServerIsAnError(t *testing.T) {
	if _, err := bench.Run(context.Background(), bench.Config{URL: "http://127.0.0.1:1", Workload: "verify", Concurrency: 1, Duration: time.Second, Users: 1}); err == nil {
		t.Fatal("no error for a server that is not there")
	}
	if _, err := bench.Run(context.Background(), bench.Config{URL: "http://x", Workload: "nap"}); err == nil {
		t.Fatal("no error for an unknown workload")
	}
}

func TestRateAndWatch(t *testing.T) {
	url := server(t)
	debug := httptest.NewServer(debugMux())
	defer debug.Close()
	rep, err := bench.Run(context.Background(), bench.Config{URL: url, Workload: "verify", Concurrency: 4,
		Duration: time.Second, Users: 1, Rate: 40, Watch: debug.URL})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests < 30 || rep.Requests > 45 {
		t.Fatalf("%d requests in a second at 40 a second", rep.Requests)
	}
	// Each worker waits about 100 ms for its turn; latency counts from the send, not the wait.
	if rep.P50ms > 50 {
		t.Fatalf("median latency %v ms includes the wait for the pacer", rep.P50ms)
	}
	if len(rep.Samples) < 2 || rep.Samples[0].Goroutines == 0 || rep.Samples[0].HeapMB <= 0 {
		t.Fatalf("samples %+v", rep.Samples)
	}
}

// debugMux serves what AUTH_DEBUG_ADDR serves, for this process.
func debugMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}

func TestARunCutShortStillReports(t *testing.T) {
	// Stopped before the floor answered anything (Ctrl-C, or a run too short to measure): the
	// report must still encode, with no ratio rather than a division by zero.
	rep, err := bench.Run(context.Background(), bench.Config{URL: server(t), Workload: "verify", Concurrency: 1,
		Duration: time.Nanosecond, Users: 1, Floor: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("report of a cut-short run does not encode: %v", err)
	}
}
