package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// gauge reads a gauge of reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func wantBusy(t *testing.T, err error, naming string) {
	t.Helper()
	if !errors.Is(err, herald.ErrBusy) || !strings.Contains(err.Error(), naming) {
		t.Fatalf("test send past a cap: %v, want herald.ErrBusy naming %q", err, naming)
	}
}

// TestEngine_TestSendsCountAgainstTheCaps: test sends to a receiver that
// hangs hold places like any attempt: no more than the endpoint's cap at
// once, and no more than the tenant's share; past them a test send is
// refused as busy, naming the cap, and the in-flight metric counts them.
// A test whose caller goes away ends with it: its delivery fails, and is
// not handed back to be sent again as an ordinary delivery.
func TestEngine_TestSendsCountAgainstTheCaps(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		reg := prometheus.NewRegistry()
		b := setup(t, st, func(c *delivery.Config) {
			c.Metrics = delivery.NewMetrics(reg, &delivery.MetricsConfig{})
			c.PerTenant = 3
			c.TestWait = 100 * time.Millisecond // the refusals below wait this long, on the wall clock
		})
		release := make(chan struct{})
		var once sync.Once
		rc := newReceiver(t)
		rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusNoContent)
		})
		t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the receiver closes
		a := b.endpoint(t, rc.URL+"/a", []string{"*"}, func(e *store.Endpoint) { e.MaxInFlight = 2 })
		other := b.endpoint(t, rc.URL+"/b", []string{"*"})
		b.run(t)

		type result struct {
			res *delivery.TestResult
			err error
		}
		start := func(ctx context.Context, ep *store.Endpoint) chan result {
			out := make(chan result, 1)
			go func() {
				res, err := b.engine.Test(ctx, b.tenant, ep.ID)
				out <- result{res, err}
			}()
			return out
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		defer cancel1()
		t1, t2 := start(ctx1, a), start(context.Background(), a)
		waitFor(t, "two test sends at the receiver", 10*time.Second, func() bool { return rc.inflight.Load() == 2 })
		if g := gauge(t, reg, "herald_delivery_inflight"); g != 2 {
			t.Errorf("herald_delivery_inflight = %v with two test sends in flight, want 2", g)
		}
		// a is at its cap of 2.
		_, err := b.engine.Test(context.Background(), b.tenant, a.ID)
		wantBusy(t, err, "endpoint "+a.ID+" has 2 attempts in flight")
		// Another endpoint has room, within the tenant's share of 3...
		t3 := start(context.Background(), other)
		waitFor(t, "the third test send at the receiver", 10*time.Second, func() bool { return rc.inflight.Load() == 3 })
		// ...which is then full.
		_, err = b.engine.Test(context.Background(), b.tenant, other.ID)
		wantBusy(t, err, "tenant acme has 3 attempts in flight")
		if p, g := rc.peak.Load(), gauge(t, reg, "herald_delivery_inflight"); p != 3 || g != 3 {
			t.Errorf("receiver peak %d, herald_delivery_inflight %v; want 3 and 3", p, g)
		}

		cancel1()
		r1 := <-t1
		if r1.err != nil || r1.res.Status != store.StatusFailed || !strings.Contains(r1.res.Error, "cancelled") {
			t.Fatalf("the test send whose caller went away: %+v, %v; want failed, cancelled", r1.res, r1.err)
		}
		if d := b.get(t, r1.res.DeliveryID); d.Status != store.StatusFailed || d.Attempts != 1 || d.NextAttemptAt != nil {
			t.Errorf("its delivery: %s after %d attempts, next %v; want failed after 1, nothing due", d.Status, d.Attempts, d.NextAttemptAt)
		}
		once.Do(func() { close(release) })
		for _, r := range []result{<-t2, <-t3} {
			if r.err != nil || r.res.Status != store.StatusDelivered {
				t.Errorf("a test send let through: %+v, %v; want delivered", r.res, r.err)
			}
		}
		if g := gauge(t, reg, "herald_delivery_inflight"); g != 0 {
			t.Errorf("herald_delivery_inflight = %v once every test send answered, want 0", g)
		}
	})
}

// A test send needs the engine running: one that is not is unavailable.
func TestEngine_TestSendWithoutTheEngineIsUnavailable(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	b := setup(t, dbtest.SQLite(t, store.WithClock(fake)), onClock(fake))
	rc := newReceiver(t)
	ep := b.endpoint(t, rc.URL, []string{"*"})
	got := make(chan error, 1)
	go func() {
		_, err := b.engine.Test(context.Background(), b.tenant, ep.ID)
		got <- err
	}()
	waitFor(t, "the test send to wait for the engine", 10*time.Second, func() bool { return fake.Timers() == 1 })
	fake.Advance(delivery.DefaultTestWait)
	if err := <-got; !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("test send with no engine: %v, want herald.ErrUnavailable", err)
	}
	if n := len(rc.got()); n != 0 {
		t.Errorf("the receiver got %d requests, want 0", n)
	}
}

// TestEngine_ClaimedTestDeliveryIsSentOnce: a test delivery whose sender
// died is claimed again when its lease runs out, and is still a test: one
// attempt, failed for good, never retried on the schedule.
func TestEngine_ClaimedTestDeliveryIsSentOnce(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, onClock(fake))
		rc := newReceiver(t)
		rc.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
		ep := b.endpoint(t, rc.URL, []string{"*"})
		now := fake.Now()
		ev := &store.Event{TenantID: b.tenant, Type: "webhook.test", Data: []byte(`{}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Source: store.SourceTest, CreatedAt: now}
		ev.Hash = store.EventHash(ev.Type, ev.Data)
		res, err := st.EventCreate(context.Background(), &store.EventCreateParams{
			Event: ev, EndpointIDs: []string{ep.ID}, Now: now, LeaseOwner: "dead-node", LeaseUntil: now.Add(time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
		b.run(t)
		id := res.Deliveries[0].ID
		b.advanceTo(t, now.Add(time.Second), "the dead node's test delivery to be attempted", func() bool { return b.get(t, id).Attempts == 1 })
		d := b.waitAttempts(t, id, 1)
		if d.Status != store.StatusFailed || d.NextAttemptAt != nil {
			t.Errorf("the test delivery after a 503: %s, next %v; want failed, never retried", d.Status, d.NextAttemptAt)
		}
	})
}
