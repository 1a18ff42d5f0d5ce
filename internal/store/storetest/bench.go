package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Bench measures the delivery queue of a driver. open returns a fresh,
// migrated store closed when the benchmark ends.
//
//   - ClaimRecord1000: 1000 due deliveries over 10 endpoints, drained by 4
//     workers that claim 50 at a time and record each one delivered.
//     Reports deliveries/s and the mean latency of a claim and a record.
//   - ClaimRecordBatch1000: the same, each claim's deliveries recorded in
//     one DeliveryRecordAttempts batch, as the engine's completer does.
//     Reports deliveries/s, a claim's and a batch's mean latency, and the
//     batch's share per record.
//   - ClaimWithBacklog: one claim (and release) while another endpoint holds
//     a backlog of 5000 due deliveries and is at its cap: what every claim
//     pays for a stuck endpoint.
//   - Stats100kDone: one Stats (the gauges of /metrics) over 100,000
//     deliveries of which 90,000 are delivered and 10,000 pending: the
//     finished rows must cost nothing.
//   - Stats100kQueued: one Stats over 100,000 pending deliveries, the
//     worst case: every row is one to count.
//   - Overview100k: the dashboard overview's reads over 100,000
//     deliveries that all finished in the last day (1% failed): the 84
//     windows' counts (counts), the latencies of the last hour's latest
//     2,000 delivered (latencies) and the first 10 disabled endpoints
//     (disabled).
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("ClaimRecord1000", func(b *testing.B) { benchClaimRecord(b, open, false) })
	b.Run("ClaimRecordBatch1000", func(b *testing.B) { benchClaimRecord(b, open, true) })
	b.Run("ClaimWithBacklog", func(b *testing.B) { benchClaimWithBacklog(b, open) })
	b.Run("DrainBacklog", func(b *testing.B) { benchDrainBacklog(b, open(b)) })
	b.Run("DrainManyEndpoints", func(b *testing.B) { benchDrainManyEndpoints(b, open(b)) })
	b.Run("Stats100kDone", func(b *testing.B) { benchStats(b, open, 90_000) })
	b.Run("Stats100kQueued", func(b *testing.B) { benchStats(b, open, 0) })
	b.Run("Overview100k", func(b *testing.B) { benchOverview(b, open) })
}

// benchOverview reads what the dashboard's overview reads, over 100,000
// deliveries (10,000 events to 10 endpoints, one of them disabled since)
// finished one after the other over 23 hours, every hundredth failed.
func benchOverview(b *testing.B, open func(b *testing.B) store.Store) {
	const endpoints, events, spread = 10, 10_000, 23 * time.Hour
	st := open(b)
	ctx := context.Background()
	benchSetup(b, st, endpoints, events, "bench")
	start := t0.Add(time.Hour)
	total := endpoints * events
	for done := 0; done < total; {
		cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: start, Lease: 48 * time.Hour, Limit: 1000, PerEndpoint: 1000})
		if err != nil || len(cs) == 0 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
		rs := make([]*store.AttemptRecordParams, len(cs))
		for i, c := range cs {
			at := start.Add(time.Duration(done+i) * (spread / time.Duration(total)))
			status, code := store.StatusDelivered, 204
			if (done+i)%100 == 0 {
				status, code = store.StatusFailed, 500
			}
			rs[i] = &store.AttemptRecordParams{DeliveryID: c.Delivery.ID, Owner: "w", Status: status, Now: at,
				Attempt: &store.Attempt{StartedAt: at, ResponseCode: code}}
		}
		if _, err := st.DeliveryRecordAttempts(ctx, rs); err != nil {
			b.Fatal(err)
		}
		done += len(cs)
	}
	eps, err := st.EndpointList(ctx, "bench", &store.ListParams{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	eps[0].Enabled = false
	if _, err := st.EndpointUpdate(ctx, eps[0]); err != nil {
		b.Fatal(err)
	}
	// As the overview asks at the end of that day: 60 minutes and 24
	// hours.
	now := start.Add(spread + 28*time.Minute)
	var ws []store.Window
	for i := range 60 {
		m := now.Truncate(time.Minute).Add(time.Duration(i-59) * time.Minute)
		ws = append(ws, store.Window{Since: m, Until: m.Add(time.Minute)})
	}
	for i := range 24 {
		h := now.Truncate(time.Hour).Add(time.Duration(i-23) * time.Hour)
		ws = append(ws, store.Window{Since: h, Until: h.Add(time.Hour)})
	}
	b.Run("counts", func(b *testing.B) {
		for b.Loop() {
			cs, err := st.DeliveryFinishedCounts(ctx, ws)
			if err != nil {
				b.Fatal(err)
			}
			sum := 0
			for _, c := range cs[60:] {
				sum += c.Delivered + c.Failed
			}
			if sum != total {
				b.Fatalf("the day counts %d finished, want %d", sum, total)
			}
		}
	})
	b.Run("latencies", func(b *testing.B) {
		for b.Loop() {
			if ls, err := st.DeliveryLatencies(ctx, ws[0].Since, 2000); err != nil || len(ls) != 2000 {
				b.Fatalf("latencies: %d, %v; want 2000", len(ls), err)
			}
		}
	})
	b.Run("disabled", func(b *testing.B) {
		for b.Loop() {
			if ds, err := st.EndpointListDisabled(ctx, 10); err != nil || len(ds) != 1 {
				b.Fatalf("disabled: %d, %v; want 1", len(ds), err)
			}
		}
	})
}

// benchStats reads Stats over 100,000 deliveries (10,000 events to 10
// endpoints), delivered of them first.
func benchStats(b *testing.B, open func(b *testing.B) store.Store, delivered int) {
	const endpoints, events = 10, 10_000
	st := open(b)
	ctx := context.Background()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "bench", Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	for range endpoints {
		if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "bench", URL: "https://x", Events: []string{"*"}, Enabled: true}); err != nil {
			b.Fatal(err)
		}
	}
	var ps []*store.EventCreateParams
	for i := range events {
		ps = append(ps, &store.EventCreateParams{Event: newEvent("bench", fmt.Sprint("e", i), "bench", `{"i":1}`), Now: t0.Add(time.Duration(i) * time.Microsecond)})
		if len(ps) == 500 || i == events-1 {
			if _, _, err := st.EventCreateMany(ctx, ps, nil); err != nil {
				b.Fatal(err)
			}
			ps = nil
		}
	}
	now := t0.Add(time.Hour)
	for done := 0; done < delivered; {
		cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: min(1000, delivered-done), PerEndpoint: 1000})
		if err != nil || len(cs) == 0 {
			b.Fatalf("claim: %d, %v", len(cs), err)
		}
		rs := make([]*store.AttemptRecordParams, len(cs))
		for i, c := range cs {
			rs[i] = &store.AttemptRecordParams{DeliveryID: c.Delivery.ID, Owner: "w", Status: store.StatusDelivered, Now: now,
				Attempt: &store.Attempt{StartedAt: now, ResponseCode: 204}}
		}
		if _, err := st.DeliveryRecordAttempts(ctx, rs); err != nil {
			b.Fatal(err)
		}
		done += len(cs)
	}
	for b.Loop() {
		s, err := st.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got := s.Deliveries[store.StatusPending]; got != endpoints*events-delivered {
			b.Fatalf("pending = %d, want %d", got, endpoints*events-delivered)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/read")
}

func benchSetup(b *testing.B, st store.Store, endpoints, events int, typ string) {
	b.Helper()
	ctx := context.Background()
	if _, err := st.TenantGet(ctx, "bench"); err != nil {
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "bench", Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	for range endpoints {
		if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "bench", URL: "https://x", Events: []string{typ}, Enabled: true}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range events {
		_, err := st.EventCreate(ctx, &store.EventCreateParams{
			Event: newEvent("bench", "", typ, `{"i":1}`),
			Now:   t0.Add(time.Duration(i) * time.Microsecond),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchClaimRecord(b *testing.B, open func(b *testing.B) store.Store, batched bool) {
	const endpoints, events, workers, batch = 10, 100, 4, 50
	var claims, records, batches, claimNS, recordNS atomic.Int64
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		st := open(b)
		benchSetup(b, st, endpoints, events, "bench")
		ctx := context.Background()
		now := t0.Add(time.Hour)
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for {
					t := time.Now()
					got, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
						Owner: owner, Now: now, Lease: time.Minute, Limit: batch, PerEndpoint: 100,
					})
					claimNS.Add(int64(time.Since(t)))
					claims.Add(1)
					if err != nil {
						b.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					if batched {
						ps := make([]*store.AttemptRecordParams, len(got))
						for i, c := range got {
							ps[i] = &store.AttemptRecordParams{
								DeliveryID: c.Delivery.ID, Owner: owner, Status: store.StatusDelivered, Now: now,
								Attempt: &store.Attempt{StartedAt: now, DurationMS: 5, ResponseCode: 200, ResponseBody: "ok"},
								Body:    []byte(`{"i":1}`),
							}
						}
						t := time.Now()
						res, err := st.DeliveryRecordAttempts(ctx, ps)
						recordNS.Add(int64(time.Since(t)))
						batches.Add(1)
						if err != nil {
							b.Error(err)
							return
						}
						for _, r := range res {
							if r.Err != nil {
								b.Error(r.Err)
								return
							}
						}
						records.Add(int64(len(res)))
						continue
					}
					for _, c := range got {
						t := time.Now()
						_, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
							DeliveryID: c.Delivery.ID, Owner: owner, Status: store.StatusDelivered, Now: now,
							Attempt: &store.Attempt{StartedAt: now, DurationMS: 5, ResponseCode: 200, ResponseBody: "ok"},
							Body:    []byte(`{"i":1}`),
						})
						recordNS.Add(int64(time.Since(t)))
						records.Add(1)
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		total += time.Since(start)
		b.StopTimer()
		if n := records.Load(); n != int64((i+1)*endpoints*events) {
			b.Fatalf("recorded %d deliveries, want %d", n, (i+1)*endpoints*events)
		}
	}
	n := float64(records.Load())
	b.ReportMetric(n/total.Seconds(), "deliveries/s")
	b.ReportMetric(float64(claimNS.Load())/float64(claims.Load())/1e3, "µs/claim")
	b.ReportMetric(float64(recordNS.Load())/n/1e3, "µs/record")
	if batched {
		b.ReportMetric(float64(recordNS.Load())/float64(batches.Load())/1e3, "µs/batch")
	}
}

func benchClaimWithBacklog(b *testing.B, open func(b *testing.B) store.Store) {
	const backlog, cap = 5000, 5
	st := open(b)
	ctx := context.Background()
	benchSetup(b, st, 1, backlog, "stuck")
	now := t0.Add(time.Hour)
	// The stuck endpoint is at its cap: every claim must look past its
	// backlog.
	got, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "stuck", Now: now, Lease: time.Hour, Limit: cap, PerEndpoint: cap})
	if err != nil || len(got) != cap {
		b.Fatalf("filling the stuck endpoint's cap: %d claimed, %v; want %d", len(got), err, cap)
	}
	benchSetup(b, st, 1, 1, "healthy")
	b.ResetTimer()
	for range b.N {
		got, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: cap})
		if err != nil || len(got) != 1 {
			b.Fatalf("claim: %d claimed, %v; want the healthy endpoint's 1", len(got), err)
		}
		if err := st.DeliveryRelease(ctx, got[0].Delivery.ID, "w", now); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDrainBacklog claims as the engine does through a backlog (herald
// bench --scenario backlog), as drainClaims does: 10 endpoints with 2,000
// or more due deliveries each.
func benchDrainBacklog(b *testing.B, st store.Store) {
	const endpoints = 10
	// Enough events that the last claim still finds a full share due.
	events := max(2000, b.N*128/endpoints+100)
	ctx := context.Background()
	benchSetup(b, st, endpoints, 0, "bench.event")
	eps, err := st.EndpointList(ctx, "bench", &store.ListParams{Limit: endpoints})
	if err != nil {
		b.Fatal(err)
	}
	eager := make([]string, len(eps))
	for i, ep := range eps {
		eager[i] = ep.ID
	}
	now := t0.Add(time.Hour)
	for i := 0; i < events; i += 100 {
		if _, _, err := st.EventCreateMany(ctx, benchEvents(100, i, t0), nil); err != nil {
			b.Fatal(err)
		}
	}
	drainClaims(b, st, now, eager)
}

// drainClaims makes b.N claims as the engine does (up to 128, the
// workers; 16 in flight per endpoint, leased to four times that for the
// eager endpoints; the tenant's leases twice three quarters of the
// workers), each claim's deliveries recorded delivered before the next.
// Only the claims are timed; it reports µs per claimed delivery.
func drainClaims(b *testing.B, st store.Store, now time.Time, eager []string) {
	const workers, perEndpoint = 128, 16
	ctx := context.Background()
	var timed time.Duration
	claimed := 0
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
			Owner: "w", Now: now, Lease: time.Minute, Limit: workers, PerEndpoint: perEndpoint, PerTenant: 2 * (workers * 3 / 4),
			OwnFactor: 4, Eager: eager,
		})
		timed += time.Since(start)
		if err != nil || len(cs) == 0 {
			b.Fatalf("claim %d: %d claimed, %v", i, len(cs), err)
		}
		claimed += len(cs)
		b.StopTimer()
		ps := make([]*store.AttemptRecordParams, len(cs))
		for j, c := range cs {
			ps[j] = &store.AttemptRecordParams{
				DeliveryID: c.Delivery.ID, Owner: "w", Status: store.StatusDelivered, Now: now, Body: benchBody,
				Attempt: &store.Attempt{DeliveryID: c.Delivery.ID, Number: 1, StartedAt: now, DurationMS: 1, ResponseCode: 204},
			}
		}
		if _, err := st.DeliveryRecordAttempts(ctx, ps); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(timed.Microseconds())/float64(claimed), "µs/delivery")
	b.ReportMetric(float64(claimed)/float64(b.N), "deliveries/claim")
}

// benchDrainManyEndpoints claims as benchDrainBacklog does, but through a
// backlog spread thin: 100 tenants of 5 endpoints each, a few due
// deliveries at every endpoint, so that each claim weighs 500 endpoints
// for its 128. Only the claims are timed; reports µs per claimed delivery.
func benchDrainManyEndpoints(b *testing.B, st store.Store) {
	const tenants, perTenant, workers = 100, 5, 128
	ctx := context.Background()
	// Enough events per tenant (each to its five endpoints) that the last
	// claim still finds a full claim due.
	events := b.N*workers/(tenants*perTenant) + 2
	var eager []string
	for t := range tenants {
		id := fmt.Sprintf("many%03d", t)
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: id, Name: id}); err != nil {
			b.Fatal(err)
		}
		for range perTenant {
			ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: id, URL: "https://x", Events: []string{"bench.event"}, Enabled: true})
			if err != nil {
				b.Fatal(err)
			}
			eager = append(eager, ep.ID)
		}
		ps := benchEvents(events, t, t0)
		for _, p := range ps {
			p.Event.TenantID = id
		}
		if _, _, err := st.EventCreateMany(ctx, ps, nil); err != nil {
			b.Fatal(err)
		}
	}
	drainClaims(b, st, t0.Add(time.Hour), eager)
}
