package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// BenchBatch measures the two batched writes of the data path, each on a
// fresh, migrated store from open, with events of about 1 KiB of data, as
// herald bench posts:
//
//   - RecordAttempts256: the completer's write, DeliveryRecordAttempts of
//     256 first attempts answered 204 (each storing the body it sent, about
//     1 KiB). Reports µs per attempt and attempts/s.
//   - EventCreateMany64/fanout-1 and fanout-10: group commit's write,
//     EventCreateMany of 64 new events for a tenant with 1 or 10 endpoints
//     subscribed, without hand-off. Reports µs per event, µs per delivery
//     row and events/s.
//
// ns/op is one batch, its transaction and commit included; the rows it
// writes are made ready (and, for the record, leased) outside the timer.
// The tables grow as the benchmark runs, as they do in service.
func BenchBatch(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("RecordAttempts256", func(b *testing.B) { benchRecordAttempts(b, open(b), 256) })
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("EventCreateMany%d/fanout-0", n), func(b *testing.B) { benchEventCreateMany(b, open(b), n, 0) })
	}
	b.Run("EventCreateMany64/fanout-1", func(b *testing.B) { benchEventCreateMany(b, open(b), 64, 1) })
	b.Run("EventCreateMany64/fanout-10", func(b *testing.B) { benchEventCreateMany(b, open(b), 64, 10) })
}

// benchData is an event's data of about 1 KiB.
var benchData = `{"n":1,"pad":"` + strings.Repeat("herald-bench-", 70) + `"}`

// benchBody is what an attempt sends for it, as the default format writes.
var benchBody = []byte(`{"id":"evt_01M8RQVZH17TTRT14E6SAJWM54","type":"bench.event","timestamp":"2031-05-06T07:08:09.123456Z","data":` + benchData + `}`)

// benchEvents makes n new events of the type the bench endpoints take,
// their ids unique in the store across calls (batch counts the calls).
func benchEvents(n, batch int, now time.Time) []*store.EventCreateParams {
	ps := make([]*store.EventCreateParams, n)
	for i := range ps {
		ps[i] = &store.EventCreateParams{
			Event: newEvent("bench", fmt.Sprintf("evt_bench_%d_%d", batch, i), "bench.event", benchData),
			Now:   now,
		}
	}
	return ps
}

func benchRecordAttempts(b *testing.B, st store.Store, batch int) {
	const endpoints = 4
	ctx := context.Background()
	benchSetup(b, st, endpoints, 0, "bench.event")
	now := t0.Add(time.Hour)
	var timed time.Duration
	for i := range b.N {
		b.StopTimer()
		// batch deliveries leased to "w", handed off at ingest as a
		// running engine takes them.
		_, handed, err := st.EventCreateMany(ctx, benchEvents(batch/endpoints, i, now),
			&store.HandOff{Owner: "w", Until: now.Add(time.Hour), Limit: batch, PerEndpoint: batch})
		if err != nil || len(handed) != batch {
			b.Fatalf("leasing %d deliveries: %d handed, %v", batch, len(handed), err)
		}
		ps := make([]*store.AttemptRecordParams, len(handed))
		for j, c := range handed {
			ps[j] = &store.AttemptRecordParams{
				DeliveryID: c.Delivery.ID, Owner: "w", Status: store.StatusDelivered, Now: now, Body: benchBody,
				Attempt: &store.Attempt{DeliveryID: c.Delivery.ID, Number: 1, StartedAt: now, DurationMS: 1, ResponseCode: 204},
			}
		}
		b.StartTimer()
		start := time.Now()
		res, err := st.DeliveryRecordAttempts(ctx, ps)
		timed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	rows := float64(b.N * batch)
	b.ReportMetric(float64(timed.Microseconds())/rows, "µs/attempt")
	b.ReportMetric(rows/timed.Seconds(), "attempts/s")
}

func benchEventCreateMany(b *testing.B, st store.Store, batch, fanout int) {
	ctx := context.Background()
	benchSetup(b, st, fanout, 0, "bench.event")
	now := t0.Add(time.Hour)
	var timed time.Duration
	for i := range b.N {
		b.StopTimer()
		ps := benchEvents(batch, i, now)
		b.StartTimer()
		start := time.Now()
		out, _, err := st.EventCreateMany(ctx, ps, nil)
		timed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			if o.Err != nil || !o.Result.Created || len(o.Result.Deliveries) != fanout {
				b.Fatalf("event: %+v, %v; want created with %d deliveries", o.Result, o.Err, fanout)
			}
		}
	}
	events := float64(b.N * batch)
	b.ReportMetric(float64(timed.Microseconds())/events, "µs/event")
	if fanout > 0 {
		b.ReportMetric(float64(timed.Microseconds())/(events*float64(fanout)), "µs/delivery")
	}
	b.ReportMetric(events/timed.Seconds(), "events/s")
}
