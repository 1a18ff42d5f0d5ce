package cli

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/bench"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// tinyBench is every size of `herald bench` made small enough for a test.
var tinyBench = []string{
	"--producers", "8", "--events", "60", "--fanout-events", "10", "--ingest-events", "60",
	"--rate", "100", "--duration", "500ms", "--noisy-rate", "20", "--noisy-duration", "500ms",
	"--failure-events", "30", "--backlog", "100", "--timeout", "90s",
}

// runBench runs `herald bench` in process with a bound of its own (the
// scenarios wait for retries, longer than other commands take).
func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(append([]string{"bench"}, args...))
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestBench_EveryScenarioEndToEnd runs every scenario at tiny sizes on a
// server in process, on each database, and reads the JSON: every figure
// is there, every delivery arrived, and each ratio is the figure over the
// raw ceiling measured in the same run.
func TestBench_EveryScenarioEndToEnd(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "bench.db") }},
		{"postgres", func(t *testing.T) string { return dbtest.PostgresURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, err := runBench(t, append([]string{"--json", "--database", db.url(t)}, tinyBench...)...)
			if err != nil {
				t.Fatalf("herald bench: %v\nstderr:\n%s", err, errOut)
			}
			var rep bench.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("--json output does not parse: %v\n%s", err, out)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &keys); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"raw", "ingest", "throughput", "latency", "noisy_neighbour", "fair_share", "failures", "backlog"} {
				if _, ok := keys[k]; !ok {
					t.Errorf("the report has no %q", k)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			checkReport(t, &rep)
			if !strings.Contains(errOut, "bench: backlog") {
				t.Errorf("no progress on stderr: %q", errOut)
			}
		})
	}
}

func checkReport(t *testing.T, rep *bench.Report) {
	t.Helper()
	raw := rep.Raw.PerSecond
	if rep.Raw.Requests != 60 || raw <= 0 || rep.Raw.Latency.P50 <= 0 || len(rep.Raw.Rounds) != 3 {
		t.Fatalf("raw ceiling %+v, want 3 rounds of 60 requests at a positive rate", rep.Raw)
	}
	if r := slices.Sorted(slices.Values(rep.Raw.Rounds)); r[1] != raw {
		t.Errorf("raw ceiling %v/s, want the median of its rounds %v", raw, rep.Raw.Rounds)
	}
	isRatio := func(what string, got, figure float64) {
		t.Helper()
		if figure <= 0 || math.Abs(got-figure/raw) > 1e-9*got {
			t.Errorf("%s: ratio %v with figure %v, want the figure over this run's raw %v", what, got, figure, raw)
		}
	}
	if x := rep.Ingest; x.Events != 60 {
		t.Errorf("ingest: %d events, want 60", x.Events)
	}
	isRatio("ingest", rep.Ingest.Ratio, rep.Ingest.PerSecond)
	if len(rep.Throughput) != 2 || rep.Throughput[0].Fanout != 1 || rep.Throughput[1].Fanout != 10 {
		t.Fatalf("throughput runs %+v, want fan-out 1 then 10", rep.Throughput)
	}
	for _, x := range rep.Throughput {
		if !x.Complete || x.Delivered != x.Fanout*x.Events || x.Latency.Max < x.Latency.P50 || x.Latency.P50 <= 0 {
			t.Errorf("throughput fan-out %d: %+v, want every delivery and ordered latencies", x.Fanout, x)
		}
		isRatio("throughput", x.Ratio, x.PerSecond)
	}
	if x := rep.Latency; !x.Complete || x.Events != 50 || x.Delivered != 50 || x.Latency.P999 < x.Latency.P99 || x.Latency.P99 < x.Latency.P50 {
		t.Errorf("latency: %+v, want 50 events delivered and p50 <= p99 <= p99.9", x)
	}
	if x := rep.NoisyNeighbour; !x.Alone.Complete || !x.Beside.Complete || x.Alone.Deliveries != 100 || x.Beside.Delivered != 100 ||
		math.Abs(x.P99Ratio-x.Beside.Latency.P99/x.Alone.Latency.P99) > 1e-9 {
		t.Errorf("noisy neighbour: %+v, want 10 x 10 healthy deliveries in each run and the p99 ratio of the two", x)
	}
	if x := rep.FairShare; !x.Alone.Complete || !x.Beside.Complete || x.Alone.Deliveries != 20 || x.Beside.Delivered != 20 ||
		math.Abs(x.P99Ratio-x.Beside.Latency.P99/x.Alone.Latency.P99) > 1e-9 {
		t.Errorf("fair share: %+v, want 10 x 2 healthy deliveries in each run and the p99 ratio of the two", x)
	}
	if x := rep.Failures; !x.Complete || x.Delivered != 30 || x.GivenUp != 0 || x.Attempts != x.Delivered+x.Answered500+x.Duplicates {
		t.Errorf("failures: %+v, want all 30 delivered and every attempt counted", x)
	}
	if x := rep.Backlog; !x.Complete || x.Deliveries != 100 || x.Delivered != 100 || x.PeakRSSMB <= 0 {
		t.Errorf("backlog: %+v, want 100 held deliveries drained and a peak RSS", x)
	} else {
		isRatio("backlog", x.Ratio, x.PerSecond)
	}
}

// TestBench_Target drives a running server, as --target does, and prints
// the table.
func TestBench_Target(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--addr", addr, "--allow-private-destinations", "--admin-key", "hk_bench_target_test_0123456789abcdef",
		"--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() { cancel(); <-done }()
	if !waitFor(30*time.Second, func() bool { return strings.Contains(errOut.String(), "herald listening") }) {
		t.Fatalf("the server did not start: %s", errOut.String())
	}
	table, progress, err := runBench(t, append([]string{"--target", "http://" + addr, "--key", "hk_bench_target_test_0123456789abcdef",
		"--scenario", "ingest,throughput,backlog"}, tinyBench...)...)
	if err != nil {
		t.Fatalf("herald bench --target: %v\n%s", err, progress)
	}
	for _, want := range []string{"raw", "60 signed POSTs/s, median of 3", "60 events accepted/s", "throughput, fan-out 10", "100 held deliveries drained/s", "server /metrics"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "INCOMPLETE") || strings.Contains(table, "latency") {
		t.Errorf("the table:\n%s\nwant the three scenarios asked for, complete", table)
	}
}

func TestBench_RefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "warp"}, "scenario"},
		{[]string{"--target", "http://127.0.0.1:1"}, "--key"},
		{[]string{"--pprof-addr", "0.0.0.0:6060"}, "loopback"},
		{[]string{"--target", "http://127.0.0.1:1", "--key", "k", "--database", "sqlite:x.db"}, "--database"},
	} {
		_, _, err := runBench(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("herald bench %v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

func TestServe_RefusesAPprofAddrOffLoopback(t *testing.T) {
	t.Parallel()
	_, _, err := herald(t, nil, "serve", "--pprof-addr", ":6060", "--database", "sqlite:"+filepath.Join(t.TempDir(), "h.db"))
	if err == nil || !strings.Contains(err.Error(), "--pprof-addr") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("serve --pprof-addr :6060: %v, want a refusal naming the flag and loopback", err)
	}
}
