package delivery_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// series is one gathered sample: a counter's or gauge's value, or a
// histogram's count of observations.
type series map[string]float64

// gather reads every series of name from reg, keyed by their labels
// ("outcome=delivered,status_class=2xx"; "" without labels).
func gather(t *testing.T, reg *prometheus.Registry, name string) series {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := series{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelsOf(m)] = valueOf(m)
		}
	}
	return out
}

func labelsOf(m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestMetrics_AttemptsByOutcomeAndStatusClass(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	reg := prometheus.NewRegistry()
	b := setup(t, st, func(cfg *delivery.Config) { cfg.Metrics = delivery.NewMetrics(reg, &delivery.MetricsConfig{}) })
	b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
	b.putFormat(t, `{"name":"patient","retry":{"schedule":["1h"]}}`)
	ok := newReceiver(t)
	gone := newReceiver(t)
	gone.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
	busy := newReceiver(t)
	busy.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	down := newReceiver(t)
	down.Close() // nothing listens there any more: no answer at all
	// Subscribed to user.* only: the failure event the 410 raises
	// (webhook.delivery_failed) must not add attempts of its own.
	b.endpoint(t, ok.URL, []string{"user.*"})
	b.endpoint(t, gone.URL, []string{"user.*"}, func(e *store.Endpoint) { e.Format = "once" })
	b.endpoint(t, busy.URL, []string{"user.*"}, func(e *store.Endpoint) { e.Format = "patient" })
	b.endpoint(t, down.URL, []string{"user.*"}, func(e *store.Endpoint) { e.Format = "patient" })

	before := gather(t, reg, "herald_delivery_attempts_total")
	for _, l := range []string{"outcome=delivered,status_class=2xx", "outcome=failed,status_class=4xx", "outcome=retrying,status_class=none"} {
		if v, ok := before[l]; !ok || v != 0 {
			t.Errorf("before any attempt, %s = %v (present %v), want a series at 0", l, v, ok)
		}
	}
	b.run(t)
	b.send(t, "user.created", `{}`)

	want := series{
		"outcome=delivered,status_class=2xx": 1,
		"outcome=failed,status_class=4xx":    1,
		"outcome=retrying,status_class=5xx":  1,
		"outcome=retrying,status_class=none": 1,
	}
	waitFor(t, "one attempt of each outcome", 10*time.Second, func() bool {
		got := gather(t, reg, "herald_delivery_attempts_total")
		for l, v := range want {
			if got[l] != v {
				return false
			}
		}
		return true
	})
	got := gather(t, reg, "herald_delivery_attempts_total")
	total := 0.0
	for _, v := range got {
		total += v
	}
	if total != 4 {
		t.Errorf("attempts counted %v, want the four of %v alone", got, want)
	}
	if n := gather(t, reg, "herald_delivery_attempt_duration_seconds")[""]; n != 4 {
		t.Errorf("attempt durations observed %v times, want 4", n)
	}
	// Only the delivery that arrived has a latency.
	if n := gather(t, reg, "herald_delivery_latency_seconds")[""]; n != 1 {
		t.Errorf("delivery latencies observed %v times, want 1", n)
	}
}

// TestMetrics_LatencyIsFromAcceptanceToDelivery: an event accepted an
// hour before its delivery (its retry was due then) lands in the latency
// buckets past the hour.
func TestMetrics_LatencyIsFromAcceptanceToDelivery(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	st := dbtest.SQLite(t, store.WithClock(clk))
	reg := prometheus.NewRegistry()
	b := setup(t, st, onClock(clk), func(cfg *delivery.Config) { cfg.Metrics = delivery.NewMetrics(reg, &delivery.MetricsConfig{}) })
	b.putFormat(t, `{"name":"patient","retry":{"schedule":["1h"]}}`)
	rc := newReceiver(t)
	rc.setRespond(func(n int, _ *http.Request, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "patient" })
	b.run(t)
	res := b.send(t, "user.created", `{}`)
	b.advanceTo(t, t0, "the first attempt", func() bool {
		return gather(t, reg, "herald_delivery_attempts_total")["outcome=retrying,status_class=5xx"] == 1
	})
	next := b.get(t, res.Deliveries[0].ID).NextAttemptAt
	b.advanceTo(t, *next, "the retry", func() bool {
		return gather(t, reg, "herald_delivery_latency_seconds")[""] == 1
	})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "herald_delivery_latency_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if s := h.GetSampleSum(); s < 3600 || s > 2*3600 {
			t.Errorf("latency %vs, want the hour (and jitter) between acceptance and delivery", s)
		}
		for _, bk := range h.GetBucket() {
			if bk.GetUpperBound() < 3600 && bk.GetCumulativeCount() != 0 {
				t.Errorf("bucket le=%v holds %d, want a delivery over an hour late in no bucket under an hour", bk.GetUpperBound(), bk.GetCumulativeCount())
			}
		}
	}
}

func TestMetrics_EventsAcceptedByTenantOnlyWhenBounded(t *testing.T) {
	t.Parallel()
	plain := prometheus.NewRegistry()
	m := delivery.NewMetrics(plain, &delivery.MetricsConfig{})
	if got := gather(t, plain, "herald_events_accepted_total"); len(got) != 1 || got[""] != 0 {
		t.Fatalf("before any event: %v, want one series at 0 without labels", got)
	}
	for _, tenant := range []string{"acme", "globex", "acme"} {
		m.EventAccepted(tenant)
	}
	if got := gather(t, plain, "herald_events_accepted_total"); len(got) != 1 || got[""] != 3 {
		t.Errorf("without a tenant label: %v, want one series counting 3", got)
	}

	labelled := prometheus.NewRegistry()
	m = delivery.NewMetrics(labelled, &delivery.MetricsConfig{TenantLabel: 2})
	for _, tenant := range []string{"acme", "globex", "acme", "initech", "umbrella", "globex", "initech"} {
		m.EventAccepted(tenant)
	}
	want := series{"tenant=acme": 2, "tenant=globex": 2, "tenant=" + delivery.OtherTenant: 3}
	if got := gather(t, labelled, "herald_events_accepted_total"); len(got) != len(want) || got["tenant=acme"] != 2 || got["tenant=globex"] != 2 || got["tenant="+delivery.OtherTenant] != 3 {
		t.Errorf("labelled for 2 tenants: %v, want %v", got, want)
	}
	var nilMetrics *delivery.Metrics
	nilMetrics.EventAccepted("acme") // records nothing, and does not panic
}

// statsSpy is a real store that counts its Stats reads.
type statsSpy struct {
	store.Store
	reads atomic.Int32
}

func (s *statsSpy) Stats(ctx context.Context) (*store.Stats, error) {
	s.reads.Add(1)
	return s.Store.Stats(ctx)
}

func TestMetrics_QueueGaugesAreReadAtMostOncePerMaxAge(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		clk := clock.NewFake(t0)
		spy := &statsSpy{Store: st}
		reg := prometheus.NewRegistry()
		delivery.NewMetrics(reg, &delivery.MetricsConfig{Store: spy, Clock: clk, StatsMaxAge: 10 * time.Second})
		b := setup(t, st, onClock(clk))
		b.endpoint(t, "https://example.com/hook", []string{"*"})
		b.endpoint(t, "https://example.com/off", []string{"*"}, func(e *store.Endpoint) { e.Enabled = false })
		b.send(t, "user.created", `{}`)
		b.send(t, "user.created", `{}`)

		// The deliveries were due at t0: 90 seconds on, they have waited 90.
		clk.Advance(90 * time.Second)
		want := series{"status=pending": 2, "status=delivering": 0, "status=retrying": 0}
		if got := gather(t, reg, "herald_deliveries"); len(got) != 3 || got["status=pending"] != 2 || got["status=delivering"] != 0 || got["status=retrying"] != 0 {
			t.Errorf("herald_deliveries = %v, want %v", got, want)
		}
		if got := gather(t, reg, "herald_delivery_oldest_due_age_seconds")[""]; got != 90 {
			t.Errorf("oldest due age = %v, want 90", got)
		}
		if got := gather(t, reg, "herald_endpoints_disabled")[""]; got != 1 {
			t.Errorf("disabled endpoints = %v, want 1", got)
		}

		// Scrapes within the max age, one after another or many at once,
		// read nothing more: they show the last reading.
		b.send(t, "user.created", `{}`)
		clk.Advance(9 * time.Second)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := gather(t, reg, "herald_deliveries")["status=pending"]; got != 2 {
			t.Errorf("pending within the max age = %v, want the last reading, 2", got)
		}
		if n := spy.reads.Load(); n != 1 {
			t.Errorf("the store was read %d times for scrapes within the max age, want once", n)
		}
		clk.Advance(time.Second)
		if got := gather(t, reg, "herald_deliveries")["status=pending"]; got != 3 {
			t.Errorf("pending once the max age is over = %v, want 3", got)
		}
		if n := spy.reads.Load(); n != 2 {
			t.Errorf("the store was read %d times, want twice", n)
		}
	})
}

// brokenStats is a store whose Stats fails, as a database that is down.
type brokenStats struct{ store.Store }

func (brokenStats) Stats(context.Context) (*store.Stats, error) {
	return nil, context.DeadlineExceeded
}

func TestMetrics_QueueGaugesAreLeftOutWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := delivery.NewMetrics(reg, &delivery.MetricsConfig{Store: brokenStats{dbtest.SQLite(t)}})
	m.EventAccepted("acme")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("a scrape while the store fails: %v, want the other series served", err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if names["herald_deliveries"] || !names["herald_events_accepted_total"] || !names["herald_delivery_attempts_total"] {
		t.Errorf("series served while the store fails: %v, want all but the queue's gauges", names)
	}
}
