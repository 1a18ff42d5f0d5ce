package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestEngine_FailingEndpointsDoNotFanOut: 60 endpoints of one tenant that
// fail every delivery for good, and one that works, all subscribed to
// every type. One event is 61 deliveries; its 60 failures are one failure
// event, counting them, sent to the working endpoint only: the failing
// ones would fail it in their turn. Sent one by one to every subscriber,
// the failures made 60 x 61 more deliveries.
func TestEngine_FailingEndpointsDoNotFanOut(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		b := setup(t, st, onClock(fake))
		b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
			if strings.HasPrefix(r.URL.Path, "/dead") {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		const dead = 60
		for i := range dead {
			b.endpoint(t, fmt.Sprintf("%s/dead/%d", rc.URL, i), []string{"*"}, func(e *store.Endpoint) { e.Format = "once" })
		}
		watch := b.endpoint(t, rc.URL+"/watch", []string{"*"})
		stop := b.run(t)

		res := b.send(t, "user.created", `{}`)
		if len(res.Deliveries) != dead+1 {
			t.Fatalf("the event made %d deliveries, want %d", len(res.Deliveries), dead+1)
		}
		for _, d := range res.Deliveries {
			want := store.StatusFailed
			if d.EndpointID == watch.ID {
				want = store.StatusDelivered
			}
			b.waitStatus(t, d.ID, want, 10*time.Second)
		}
		atWatch := func() []*received {
			var out []*received
			for _, r := range rc.got() {
				if r.header.Get("webhook-id") != res.Event.ID && strings.Contains(string(r.body), "webhook.delivery_failed") {
					out = append(out, r)
				}
			}
			return out
		}
		b.advanceTo(t, fake.Now().Add(time.Second), "the failure notice at the working endpoint", func() bool { return len(atWatch()) == 1 })
		var env struct {
			Data struct {
				DeliveryID string `json:"delivery_id"`
				Count      int    `json:"count"`
				Failures   []struct {
					DeliveryID   string `json:"delivery_id"`
					EndpointID   string `json:"endpoint_id"`
					ResponseCode int    `json:"response_code"`
				} `json:"failures"`
			} `json:"data"`
		}
		if err := json.Unmarshal(atWatch()[0].body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Data.Count != dead || len(env.Data.Failures) != 10 || env.Data.Failures[0].DeliveryID != env.Data.DeliveryID || env.Data.Failures[0].ResponseCode != 502 {
			t.Errorf("the notice: %s; want a count of %d, the first 10 failures listed, the first on top", atWatch()[0].body, dead)
		}

		fake.Advance(2 * time.Hour) // past every window
		stop()                      // every attempt over, every notice raised
		all, err := st.DeliveryList(ctx, b.tenant, &store.DeliveryListParams{ListParams: store.ListParams{Limit: 250}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != dead+2 {
			t.Errorf("one event made %d deliveries in all, want %d: the event's %d and one notice", len(all), dead+2, dead+1)
		}
	})
}

// gatedNotices is a store whose writes of failure events wait for gate.
type gatedNotices struct {
	store.Store
	entered chan struct{} // gets a value each time a failure event write starts waiting
	gate    chan struct{}
}

func (g *gatedNotices) hold(evs ...*store.Event) {
	for _, ev := range evs {
		if ev.Source == store.SourceFailure {
			select {
			case g.entered <- struct{}{}:
			default:
			}
			<-g.gate
			return
		}
	}
}

func (g *gatedNotices) EventCreate(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	g.hold(p.Event)
	return g.Store.EventCreate(ctx, p)
}

func (g *gatedNotices) EventCreateMany(ctx context.Context, ps []*store.EventCreateParams, h *store.HandOff) ([]store.EventCreateOutcome, []*store.Claimed, error) {
	evs := make([]*store.Event, len(ps))
	for i, p := range ps {
		evs[i] = p.Event
	}
	g.hold(evs...)
	return g.Store.EventCreateMany(ctx, ps, h)
}

// TestEngine_NoticesDoNotHoldUpRecords: while the failure event of a
// delivery that failed is being stored (here: held up), the engine goes
// on recording other attempts. The notices are raised on a goroutine of
// their own, not on the completer's.
func TestEngine_NoticesDoNotHoldUpRecords(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		g := &gatedNotices{Store: st, entered: make(chan struct{}, 1), gate: make(chan struct{})}
		b := setup(t, g, onClock(fake))
		b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
			if r.URL.Path == "/dead" {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		b.endpoint(t, rc.URL+"/dead", []string{"a"}, func(e *store.Endpoint) { e.Format = "once" })
		b.endpoint(t, rc.URL+"/fine", []string{"b"})
		b.endpoint(t, rc.URL+"/watch", []string{"webhook.delivery_failed"})
		b.run(t)
		var once sync.Once
		open := func() { once.Do(func() { close(g.gate) }) }
		t.Cleanup(open) // before the engine stops

		b.waitStatus(t, b.send(t, "a", `{}`).Deliveries[0].ID, store.StatusFailed, 10*time.Second)
		entered := false
		b.advanceTo(t, fake.Now().Add(time.Second), "the failure event's write to start", func() bool {
			select {
			case <-g.entered:
				entered = true
			default:
			}
			return entered
		})
		// The notice's write is held up: another delivery is still sent
		// and recorded.
		b.waitStatus(t, b.send(t, "b", `{}`).Deliveries[0].ID, store.StatusDelivered, 10*time.Second)
		open()
		waitFor(t, "the notice at the watcher", 10*time.Second, func() bool {
			for _, r := range rc.got() {
				if strings.Contains(string(r.body), "webhook.delivery_failed") {
					return true
				}
			}
			return false
		})
	})
}
