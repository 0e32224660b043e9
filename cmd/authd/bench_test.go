package main

import (
	"strings"
	"testing"

	"github.com/authd/authd/bench"
)

// The summary gives each workload the ratio its target is set against.
func TestBenchSummaryGivesTheRatioOfTheTarget(t *testing.T) {
	floor := bench.Result{Workload: "floor", PerSecond: 30000}
	for _, c := range []struct {
		report    bench.Report
		want, not string
	}{
		{bench.Report{Result: bench.Result{Workload: "login", PerSecond: 66}, Floor: &floor, OfFloor: 0.0022, OfHashCeiling: 0.93},
			"login: 93% of the hash ceiling", "of the floor"},
		{bench.Report{Result: bench.Result{Workload: "refresh", PerSecond: 5100}, Floor: &floor, OfFloor: 0.17},
			"refresh: 17% of the floor", "hash ceiling"},
	} {
		var out strings.Builder
		printReport(&out, c.report)
		summary := out.String()
		if !strings.Contains(summary, c.want) || strings.Contains(summary, c.not) {
			t.Errorf("summary of %s:\n%s\nwant %q and no %q", c.report.Workload, summary, c.want, c.not)
		}
	}
}
