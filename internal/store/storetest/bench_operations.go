package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// EnvOperationsRows sets how many failed deliveries BenchOperations makes
// (default 20000): HERALD_BENCH_OPERATIONS_ROWS=200000 for the figures of
// docs/operations.md.
const EnvOperationsRows = "HERALD_BENCH_OPERATIONS_ROWS"

// BenchOperations measures the two background jobs that walk whole tables,
// on a store from open holding N failed deliveries of one endpoint (one
// event each, one attempt each, about 1 KiB of data and body), beside 3
// other endpoints with nothing to do. Run it once (-benchtime 1x):
//
//   - Replay: a replay of all N in batches of 200 (ReplayStep, as
//     replay.DefaultBatch). Reports the mean, median, 99th percentile and
//     longest batch, each one transaction holding its locks, and
//     deliveries queued a second.
//   - Retention: once the N have failed again, EventDeleteFinished of
//     them all in batches of 200 events (retention.DefaultBatch). Reports
//     the same of its batches and events deleted a second.
func BenchOperations(b *testing.B, open func(b *testing.B) store.Store) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv(EnvOperationsRows)); err == nil && v > 0 {
		n = v
	}
	b.Run(fmt.Sprintf("rows-%d", n), func(b *testing.B) {
		for range b.N {
			benchOperations(b, open(b), n)
		}
	})
}

func benchOperations(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	b.StopTimer()
	benchSetup(b, st, 4, 0, "bench.other")
	ep := do(st.EndpointCreate(ctx, &store.Endpoint{TenantID: "bench", URL: "https://x", Events: []string{"none"}, Enabled: true})).mustB(b)
	at := t0
	var ids []string
	for len(ids) < n {
		k := min(256, n-len(ids))
		ps := make([]*store.EventCreateParams, k)
		for i := range ps {
			ps[i] = &store.EventCreateParams{
				Event: newEvent("bench", "", "bench.event", benchData), EndpointIDs: []string{ep.ID}, Now: at,
				LeaseOwner: "bench", LeaseUntil: at.Add(24 * time.Hour),
			}
			at = at.Add(time.Millisecond)
		}
		out, _, err := st.EventCreateMany(ctx, ps, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			if o.Err != nil {
				b.Fatal(o.Err)
			}
			ids = append(ids, o.Result.Deliveries[0].ID)
		}
	}
	fail := func(ids []string, owner string) {
		for i := 0; i < len(ids); i += 256 {
			var ps []*store.AttemptRecordParams
			for _, id := range ids[i:min(i+256, len(ids))] {
				ps = append(ps, &store.AttemptRecordParams{
					DeliveryID: id, Owner: owner, Status: store.StatusFailed, Now: at, Body: benchBody,
					Attempt: &store.Attempt{StartedAt: at, ResponseCode: 500, ResponseBody: "down"},
				})
			}
			res, err := st.DeliveryRecordAttempts(ctx, ps)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
	}
	fail(ids, "bench")

	now := at.Add(time.Hour)
	r := do(st.ReplayCreate(ctx, &store.Replay{
		TenantID: "bench", EndpointID: ep.ID, Since: t0, Until: now, DeliveryStatus: store.StatusFailed,
		LeaseOwner: "bench", LeaseExpiresAt: ptr(now.Add(time.Minute)), CreatedAt: now,
	})).mustB(b)
	var took []time.Duration
	b.StartTimer()
	for r.Status == store.ReplayRunning {
		t := time.Now()
		r = do(st.ReplayStep(ctx, &store.ReplayStepParams{ID: r.ID, Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 200})).mustB(b)
		took = append(took, time.Since(t))
	}
	b.StopTimer()
	if r.Queued != n {
		b.Fatalf("replay queued %d of %d", r.Queued, n)
	}
	reportBatches(b, "replay", took, n, "replayed/s")

	// They are sent again and fail again: final, and old enough to go.
	for {
		cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "again", Now: now, Lease: time.Hour, Limit: 1000, PerEndpoint: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		fail(deliveryIDs(cs), "again")
	}
	var pos store.EventPosition
	took = took[:0]
	deleted := 0
	b.StartTimer()
	for {
		t := time.Now()
		res := do(st.EventDeleteFinished(ctx, &store.EventDeleteParams{Before: now, After: pos, Limit: 200})).mustB(b)
		if res.Done {
			break
		}
		took = append(took, time.Since(t))
		deleted += res.Events
		pos = res.Next
	}
	b.StopTimer()
	if deleted != n {
		b.Fatalf("retention deleted %d of %d events", deleted, n)
	}
	reportBatches(b, "retention", took, n, "deleted/s")
}

// reportBatches reports the mean, median, 99th percentile and longest of
// a job's batches, in ms, and its rows a second.
func reportBatches(b *testing.B, job string, took []time.Duration, rows int, rate string) {
	var total time.Duration
	for _, d := range took {
		total += d
	}
	sorted := slices.Clone(took)
	slices.Sort(sorted)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(total)/float64(len(took)), job+"-ms/batch")
	b.ReportMetric(ms(sorted[len(sorted)/2]), job+"-p50-ms/batch")
	b.ReportMetric(ms(sorted[len(sorted)*99/100]), job+"-p99-ms/batch")
	b.ReportMetric(ms(sorted[len(sorted)-1]), job+"-max-ms/batch")
	b.ReportMetric(float64(rows)/total.Seconds(), rate)
}

// mustB is must for a benchmark.
func (r result[T]) mustB(b *testing.B) T {
	b.Helper()
	if r.err != nil {
		b.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}
