package delivery_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// receiver is a real HTTP server standing in for a customer's endpoint.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*received
	respond  func(n int, r *http.Request, w http.ResponseWriter) // n counts from 1
	inflight atomic.Int32
	peak     atomic.Int32
	clock    clock.Clock // what received.at is read from; the wall clock unless set
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{clock: clock.Real()}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := rc.inflight.Add(1)
		defer rc.inflight.Add(-1)
		for {
			p := rc.peak.Load()
			if cur <= p || rc.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, &received{header: r.Header.Clone(), body: body, at: rc.clock.Now()})
		n := len(rc.requests)
		respond := rc.respond
		rc.mu.Unlock()
		if respond != nil {
			respond(n, r, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setRespond(f func(n int, r *http.Request, w http.ResponseWriter)) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

// onClock makes the receiver note arrival times on c.
func (rc *receiver) onClock(c clock.Clock) {
	rc.mu.Lock()
	rc.clock = c
	rc.mu.Unlock()
}

func (rc *receiver) got() []*received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*received(nil), rc.requests...)
}

// bundle is what each test works with.
type bundle struct {
	st      store.Store
	formats *catalog.Catalog
	engine  *delivery.Engine
	tenant  string
	clock   clock.Clock // the engine's
	fake    *clock.Fake // the engine's clock when it is a fake, else nil
	cfg     delivery.Config
}

type option func(*delivery.Config)

// t0 is where the tests' fake clocks start: years away from the wall clock,
// so a time the engine read from the wall clock instead of its own shows.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// onClock runs the engine on c. A test on a fake clock opens its store
// with store.WithClock on the same fake.
func onClock(c clock.Clock) option { return func(cfg *delivery.Config) { cfg.Clock = c } }

func setup(t *testing.T, st store.Store, opts ...option) *bundle {
	t.Helper()
	ctx := context.Background()
	cfg := delivery.Config{
		Store:        st,
		Client:       delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: true}),
		Logger:       slog.New(slog.DiscardHandler),
		PollInterval: 200 * time.Millisecond,
		Lease:        30 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := &bundle{st: st, formats: catalog.New(st, "", nil), tenant: "acme", clock: clock.Or(cfg.Clock)}
	b.fake, _ = cfg.Clock.(*clock.Fake)
	cfg.Formats = b.formats
	b.cfg = cfg
	now := b.clock.Now().UTC()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: b.tenant, Name: "Acme", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	b.engine = delivery.NewEngine(cfg)
	return b
}

// run starts the engine; the function it returns, also called when the
// test ends, stops it and waits until Run has returned, so every attempt it
// started is over. On a fake clock the shutdown grace is moved past for it
// when attempts are still running.
func (b *bundle) run(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.engine.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			for {
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("engine Run: %v", err)
					}
					return
				case <-time.After(50 * time.Millisecond):
					if b.fake != nil {
						b.fake.Advance(cmp.Or(b.cfg.ShutdownGrace, 10*time.Second))
					}
				}
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// advanceTo moves the fake clock to at and waits for cond: the engine's
// answer to the time. An engine that read the clock just before it moved
// may have set its timer from the earlier time, for at most a poll
// interval (the fallback wake-up): if cond does not come within a second,
// the clock moves on by a poll interval.
func (b *bundle) advanceTo(t *testing.T, at time.Time, what string, cond func() bool) {
	t.Helper()
	b.fake.Set(at)
	deadline := time.Now().Add(10 * time.Second)
	nudge := time.Now().Add(time.Second)
	for !cond() {
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("clock moved to %s (now %s): timed out waiting for %s", at.Format(time.RFC3339Nano), b.fake.Now().Format(time.RFC3339Nano), what)
		}
		if now.After(nudge) {
			b.fake.Advance(b.cfg.PollInterval)
			nudge = now.Add(time.Second)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bundle) putFormat(t *testing.T, def string) {
	t.Helper()
	f, err := format.Parse([]byte(def))
	if err != nil {
		t.Fatalf("format: %v", err)
	}
	if _, err := b.formats.Put(context.Background(), f); err != nil {
		t.Fatalf("put format: %v", err)
	}
}

func (b *bundle) endpoint(t *testing.T, url string, events []string, mod ...func(*store.Endpoint)) *store.Endpoint {
	t.Helper()
	now := b.clock.Now().UTC()
	ep := &store.Endpoint{
		ID: id.NewAt(id.Endpoint, now), TenantID: b.tenant, URL: url, Events: events,
		Secret: signature.GenerateSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now,
	}
	for _, m := range mod {
		m(ep)
	}
	ep, err := b.st.EndpointCreate(context.Background(), ep)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return ep
}

func (b *bundle) send(t *testing.T, typ, data string) *store.EventCreateResult {
	t.Helper()
	now := b.clock.Now().UTC()
	ev := &store.Event{
		TenantID: b.tenant, ID: id.NewAt(id.Event, now), Type: typ, Data: []byte(data),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Source: store.SourceAPI, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	res, err := b.st.EventCreate(context.Background(), &store.EventCreateParams{Event: ev, Now: now})
	if err != nil {
		t.Fatalf("create event: %v", err)
	}
	return res
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bundle) get(t *testing.T, deliveryID string) *store.Delivery {
	t.Helper()
	d, err := b.st.DeliveryGet(context.Background(), b.tenant, deliveryID)
	if err != nil {
		t.Fatalf("get delivery: %v", err)
	}
	return d
}

func (b *bundle) attempts(t *testing.T, deliveryID string) []*store.Attempt {
	t.Helper()
	atts, err := b.st.DeliveryAttempts(context.Background(), deliveryID)
	if err != nil {
		t.Fatalf("delivery attempts: %v", err)
	}
	return atts
}

// waitAttempts waits until the delivery has had n attempts (and no
// longer is being attempted).
func (b *bundle) waitAttempts(t *testing.T, deliveryID string, n int) *store.Delivery {
	t.Helper()
	var d *store.Delivery
	waitFor(t, fmt.Sprintf("attempt %d of delivery %s", n, deliveryID), 10*time.Second, func() bool {
		d = b.get(t, deliveryID)
		return d.Attempts >= n && d.Status != store.StatusDelivering
	})
	return d
}

// wantDue fails unless the delivery waits to be retried delay after att
// started, or at most 10% jitter and a second later.
func wantDue(t *testing.T, d *store.Delivery, att *store.Attempt, delay time.Duration) {
	t.Helper()
	if d.Status != store.StatusRetrying || d.NextAttemptAt == nil {
		t.Fatalf("delivery %s after attempt %d: status %s, next attempt %v; want retrying", d.ID, att.Number, d.Status, d.NextAttemptAt)
	}
	if got := d.NextAttemptAt.Sub(att.StartedAt); got < delay || got > delay+delay/10+time.Second {
		t.Fatalf("attempt %d: next attempt %s after it started, want %s (plus up to 10%% jitter)", att.Number, got, delay)
	}
}

func (b *bundle) waitStatus(t *testing.T, deliveryID, status string, timeout time.Duration) *store.Delivery {
	t.Helper()
	var d *store.Delivery
	waitFor(t, fmt.Sprintf("delivery %s to be %s", deliveryID, status), timeout, func() bool {
		var err error
		d, err = b.st.DeliveryGet(context.Background(), b.tenant, deliveryID)
		if err != nil {
			t.Fatalf("get delivery: %v", err)
		}
		return d.Status == status
	})
	return d
}

func TestEngine_DeliversSignedToEverySubscribedEndpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		rcs := map[string]*receiver{}
		eps := map[string]*store.Endpoint{}
		for _, filter := range []string{"*", "user.*", "user.created", "order.*", "user"} {
			rc := newReceiver(t)
			rcs[filter] = rc
			eps[filter] = b.endpoint(t, rc.URL, []string{filter})
		}
		b.run(t)

		res := b.send(t, "user.created", `{"id":"usr_1","name":"Zoë","big":12345678901234567890}`)
		if len(res.Deliveries) != 3 {
			t.Fatalf("deliveries = %d, want 3 (*, user.*, user.created)", len(res.Deliveries))
		}
		for _, d := range res.Deliveries {
			b.waitStatus(t, d.ID, store.StatusDelivered, 10*time.Second)
		}
		for filter, rc := range rcs {
			got := rc.got()
			want := 0
			if filter == "*" || filter == "user.*" || filter == "user.created" {
				want = 1
			}
			if len(got) != want {
				t.Fatalf("endpoint %q got %d requests, want %d", filter, len(got), want)
			}
			if want == 0 {
				continue
			}
			wh, err := standardwebhooks.NewWebhook(eps[filter].Secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(got[0].body, got[0].header); err != nil {
				t.Errorf("endpoint %q: Standard Webhooks library rejects the delivery: %v", filter, err)
			}
			sv, err := svix.NewWebhook(eps[filter].Secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := sv.Verify(got[0].body, got[0].header); err != nil {
				t.Errorf("endpoint %q: Svix library rejects the delivery: %v", filter, err)
			}
			if got[0].header.Get("webhook-id") != res.Event.ID {
				t.Errorf("webhook-id = %q, want the event id %q", got[0].header.Get("webhook-id"), res.Event.ID)
			}
			var env struct {
				ID   string          `json:"id"`
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(got[0].body, &env); err != nil {
				t.Fatalf("body %s: %v", got[0].body, err)
			}
			if env.ID != res.Event.ID || env.Type != "user.created" || string(env.Data) != `{"id":"usr_1","name":"Zoë","big":12345678901234567890}` {
				t.Errorf("body = %s", got[0].body)
			}
		}
	})
}

// TestEngine_RetriesOnTheScheduleWithTheSameBody: a failing delivery is
// tried again after each delay of its format's schedule, never before, and
// every attempt sends the same bytes.
func TestEngine_RetriesOnTheScheduleWithTheSameBody(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, onClock(fake))
		b.putFormat(t, `{"name":"patient","retry":{"schedule":["1m","5m","30m"]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(n int, _ *http.Request, w http.ResponseWriter) {
			if n < 3 {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "try later")
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "patient" })
		b.run(t)

		id := b.send(t, "a.b", `{"x":1}`).Deliveries[0].ID
		d := b.waitAttempts(t, id, 1)
		for n, delay := range []time.Duration{time.Minute, 5 * time.Minute} {
			wantDue(t, d, b.attempts(t, id)[n], delay)
			due := *d.NextAttemptAt
			b.advanceTo(t, due, fmt.Sprintf("attempt %d", n+2), func() bool { return b.get(t, id).Attempts == n+2 })
			if started := b.attempts(t, id)[n+1].StartedAt; started.Before(due) {
				t.Fatalf("attempt %d started at %s, before it was due at %s", n+2, started, due)
			}
			d = b.waitAttempts(t, id, n+2)
		}
		if d.Status != store.StatusDelivered || d.Attempts != 3 {
			t.Errorf("delivery %s after %d attempts, want delivered after 3", d.Status, d.Attempts)
		}
		got := rc.got()
		for i := 1; i < len(got); i++ {
			if string(got[i].body) != string(got[0].body) {
				t.Errorf("attempt %d body %s differs from the first %s", i+1, got[i].body, got[0].body)
			}
		}
		atts := b.attempts(t, id)
		if len(atts) != 3 || atts[0].ResponseCode != 500 || atts[0].ResponseBody != "try later" || atts[2].ResponseCode != 200 {
			t.Errorf("attempts = %+v, want 500 'try later', 500, 200", atts)
		}
	})
}

// TestEngine_FailsAfterScheduleAndRaisesFailureEvent: once the schedule is
// spent the delivery fails and the tenant's endpoints that subscribe to
// failure events hear of it, once, unless they are failing themselves: the
// dead endpoint subscribes too and gets no copy. A failure event whose own
// delivery fails raises nothing more.
func TestEngine_FailsAfterScheduleAndRaisesFailureEvent(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		b := setup(t, st, onClock(fake))
		b.putFormat(t, `{"name":"patient","retry":{"schedule":["1h"]}}`)
		b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
		dead := newReceiver(t)
		dead.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
		watcher := newReceiver(t)
		fragile := newReceiver(t) // fails the failure event, at once, for good
		fragile.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
		deadEp := b.endpoint(t, dead.URL, []string{"user.created", "webhook.delivery_failed"}, func(e *store.Endpoint) { e.Format = "patient" })
		b.endpoint(t, watcher.URL, []string{"webhook.delivery_failed"})
		fragileEp := b.endpoint(t, fragile.URL, []string{"webhook.delivery_failed"}, func(e *store.Endpoint) { e.Format = "once" })
		stop := b.run(t)

		res := b.send(t, "user.created", `{}`)
		id := res.Deliveries[0].ID
		d := b.waitAttempts(t, id, 1)
		wantDue(t, d, b.attempts(t, id)[0], time.Hour)
		b.advanceTo(t, *d.NextAttemptAt, "the last attempt to fail the delivery", func() bool { return b.get(t, id).Status == store.StatusFailed })
		if d = b.get(t, id); d.Attempts != 2 {
			t.Errorf("attempts = %d, want 2 (1 + a schedule of 1)", d.Attempts)
		}
		b.advanceTo(t, fake.Now().Add(time.Second), "the failure event at the watcher", func() bool { return len(watcher.got()) == 1 })
		var env struct {
			ID   string         `json:"id"`
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(watcher.got()[0].body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Type != "webhook.delivery_failed" || env.Data["delivery_id"] != d.ID || env.Data["event_id"] != res.Event.ID ||
			env.Data["event_type"] != "user.created" || env.Data["response_code"] != float64(502) || env.Data["attempts"] != float64(2) ||
			env.Data["count"] != float64(1) {
			t.Errorf("failure event = %s", watcher.got()[0].body)
		}

		copies, err := st.DeliveryList(ctx, b.tenant, &store.DeliveryListParams{EventID: env.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range copies {
			if c.EndpointID == deadEp.ID {
				t.Errorf("the dead endpoint, failing, got a copy of the failure event")
			}
		}
		if len(copies) != 2 {
			t.Errorf("the failure event has %d deliveries, want 2 (the watcher, the fragile endpoint)", len(copies))
		}
		waitFor(t, "the fragile endpoint to fail its copy", 10*time.Second, func() bool {
			fs, _ := st.DeliveryList(ctx, b.tenant, &store.DeliveryListParams{EventID: env.ID, EndpointID: fragileEp.ID, Status: store.StatusFailed})
			return len(fs) == 1
		})
		fake.Advance(time.Hour) // past any window a notice of that failure could wait for
		stop()                  // every attempt is over, every notice raised
		events, err := st.EventList(ctx, b.tenant, &store.EventListParams{ListParams: store.ListParams{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || len(watcher.got()) != 1 || len(dead.got()) != 2 {
			t.Errorf("%d events, %d at the watcher, %d at the dead endpoint; want 2 events (the event and one failure event), 1 at the watcher, 2 at the dead endpoint: no loops",
				len(events), len(watcher.got()), len(dead.got()))
		}
	})
}

// TestEngine_RetryAfterIsHonoured: a 429 or 503 with Retry-After, in
// seconds or as an HTTP date (read on the engine's clock), waits at least
// that long, however short the schedule.
func TestEngine_RetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, onClock(fake))
		b.putFormat(t, `{"name":"eager","retry":{"schedule":["10ms","10ms"]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(n int, _ *http.Request, w http.ResponseWriter) {
			switch n {
			case 1:
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			case 2:
				w.Header().Set("Retry-After", fake.Now().Add(300*time.Second).Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.WriteHeader(http.StatusOK)
			}
		})
		b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "eager" })
		b.run(t)

		id := b.send(t, "a", `{}`).Deliveries[0].ID
		d := b.waitAttempts(t, id, 1)
		// An HTTP date has whole seconds: up to one less than asked for.
		for n, want := range []time.Duration{120 * time.Second, 299 * time.Second} {
			wantDue(t, d, b.attempts(t, id)[n], want)
			b.advanceTo(t, *d.NextAttemptAt, fmt.Sprintf("attempt %d", n+2), func() bool { return b.get(t, id).Attempts == n+2 })
			d = b.waitAttempts(t, id, n+2)
		}
		if d.Status != store.StatusDelivered {
			t.Errorf("delivery %s after 3 attempts, want delivered", d.Status)
		}
	})
}

func TestEngine_RetryOn5xxTreats4xxAsFinal(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		b.putFormat(t, `{"name":"only5xx","retry":{"schedule":["10ms","10ms"],"on":"5xx"}}`)
		for _, code := range []int{400, 429, 301} {
			rc := newReceiver(t)
			rc.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) {
				if code == 301 {
					w.Header().Set("Location", "http://example.com/")
				}
				w.WriteHeader(code)
			})
			b.endpoint(t, rc.URL, []string{fmt.Sprint("t", code)}, func(e *store.Endpoint) { e.Format = "only5xx" })
		}
		b.run(t)
		for _, code := range []int{400, 429, 301} {
			res := b.send(t, fmt.Sprint("t", code), `{}`)
			d := b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
			if d.Attempts != 1 {
				t.Errorf("%d: attempts = %d, want 1 (final under on=5xx)", code, d.Attempts)
			}
		}
	})
}

func TestEngine_RedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	b := setup(t, st)
	b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
	target := newReceiver(t)
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "once" })
	b.run(t)
	res := b.send(t, "a", `{}`)
	b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
	if n := len(target.got()); n != 0 {
		t.Fatalf("redirect target got %d requests, want 0", n)
	}
	atts, _ := st.DeliveryAttempts(context.Background(), res.Deliveries[0].ID)
	if len(atts) != 1 || atts[0].ResponseCode != 307 || atts[0].Error == "" {
		t.Errorf("attempts = %+v, want one 307 with an error saying redirects are not followed", atts)
	}
}

func TestEngine_TimeoutBoundsAnAttempt(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	b := setup(t, st)
	b.putFormat(t, `{"name":"short","timeout":"1s","retry":{"schedule":[]}}`)
	release := make(chan struct{})
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "short" })
	b.run(t)
	res := b.send(t, "a", `{}`)
	b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
	atts, _ := st.DeliveryAttempts(context.Background(), res.Deliveries[0].ID)
	if len(atts) != 1 || atts[0].ResponseCode != 0 || atts[0].DurationMS < 900 || atts[0].DurationMS > 5000 {
		t.Errorf("attempts = %+v, want one timeout after about 1s", atts)
	}
}

func TestEngine_SlowEndpointDoesNotHoldTheOthers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, func(c *delivery.Config) { c.Workers = 8; c.PerEndpoint = 2 })
		release := make(chan struct{})
		slow := newReceiver(t)
		slow.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		fast := newReceiver(t)
		b.endpoint(t, slow.URL, []string{"slow"})
		b.endpoint(t, fast.URL, []string{"fast"})
		b.run(t)
		defer close(release)

		for range 20 {
			b.send(t, "slow", `{}`)
		}
		var fastIDs []string
		for range 20 {
			fastIDs = append(fastIDs, b.send(t, "fast", `{}`).Deliveries[0].ID)
		}
		for _, id := range fastIDs {
			b.waitStatus(t, id, store.StatusDelivered, 10*time.Second)
		}
		if p := slow.peak.Load(); p > 2 {
			t.Errorf("slow endpoint had %d requests in flight at once, want at most the cap 2", p)
		}
		if n := len(slow.got()); n != 2 {
			t.Errorf("slow endpoint got %d requests while blocked, want 2 (the cap)", n)
		}
	})
}

func TestEngine_RotationSignsWithEverySecretInItsGrace(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	b := setup(t, st)
	rc := newReceiver(t)
	// Two rotations within the first's grace, and one whose grace is over.
	older, old, expired := signature.GenerateSecret(), signature.GenerateSecret(), signature.GenerateSecret()
	now := time.Now()
	ep := b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) {
		e.PreviousSecrets = []store.PreviousSecret{
			{Secret: old, ExpiresAt: now.Add(time.Hour)},
			{Secret: older, ExpiresAt: now.Add(2 * time.Hour)},
			{Secret: expired, ExpiresAt: now.Add(-time.Minute)},
		}
	})
	b.run(t)
	res := b.send(t, "a", `{}`)
	b.waitStatus(t, res.Deliveries[0].ID, store.StatusDelivered, 10*time.Second)
	got := rc.got()[0]
	for _, secret := range []string{ep.Secret, old, older} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(got.body, got.header); err != nil {
			t.Errorf("verify with one of the three active secrets: %v (header %q)", err, got.header.Get("webhook-signature"))
		}
	}
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 3 {
		t.Errorf("webhook-signature has %d signatures, want 3 (the expired secret's left out): %q", n, got.header.Get("webhook-signature"))
	}
	wh, _ := standardwebhooks.NewWebhook(expired)
	if err := wh.Verify(got.body, got.header); err == nil {
		t.Error("the secret whose grace is over still verifies")
	}
}

func TestEngine_RefusesPrivateAddressAtConnectTime(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	reg := prometheus.NewRegistry()
	b := setup(t, st, func(c *delivery.Config) {
		c.Client = delivery.NewHTTPClient(delivery.ClientConfig{})
		c.Metrics = delivery.NewMetrics(reg, &delivery.MetricsConfig{})
	})
	b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
	rc := newReceiver(t) // on 127.0.0.1, as a DNS name resolving there would be
	// Type "a" only: the failure event would be refused too.
	b.endpoint(t, rc.URL, []string{"a"}, func(e *store.Endpoint) { e.Format = "once" })
	b.run(t)
	res := b.send(t, "a", `{}`)
	b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
	if n := len(rc.got()); n != 0 {
		t.Fatalf("loopback receiver got %d requests, want 0", n)
	}
	atts, _ := st.DeliveryAttempts(context.Background(), res.Deliveries[0].ID)
	if len(atts) != 1 || atts[0].Error == "" {
		t.Fatalf("attempts = %+v, want one refused attempt", atts)
	}
	// The refusal is counted: a node refusing what its peers allow shows
	// in its metrics.
	if n := gather(t, reg, "herald_delivery_destinations_refused_total")[""]; n != 1 {
		t.Errorf("herald_delivery_destinations_refused_total = %v, want 1", n)
	}
}

func TestEngine_TestSendAnswersWithTheReceiversStatus(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		rc := newReceiver(t)
		rc.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) {
			w.WriteHeader(418)
			_, _ = io.WriteString(w, "teapot")
		})
		ep := b.endpoint(t, rc.URL, []string{"user.created"})
		b.run(t)
		res, err := b.engine.Test(context.Background(), b.tenant, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != store.StatusFailed || res.ResponseCode != 418 || res.ResponseBody != "teapot" {
			t.Errorf("test result = %+v, want failed 418 teapot", res)
		}
		var env struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(rc.got()[0].body, &env)
		if env.Type != "webhook.test" {
			t.Errorf("test event type = %q, want webhook.test", env.Type)
		}
		d, err := st.DeliveryGet(context.Background(), b.tenant, res.DeliveryID)
		if err != nil || d.Status != store.StatusFailed || d.Attempts != 1 {
			t.Errorf("stored test delivery = %+v, %v; want failed after 1 attempt", d, err)
		}
	})
}

// TestEngine_CrashedClaimIsDeliveredAfterLeaseExpiry: an engine that
// claimed a batch and died (no release, no record) loses nothing: when the
// lease expires another engine delivers every delivery.
func TestEngine_CrashedClaimIsDeliveredAfterLeaseExpiry(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, onClock(fake))
		rc := newReceiver(t)
		b.endpoint(t, rc.URL, []string{"*"})
		var ids []string
		for range 10 {
			ids = append(ids, b.send(t, "a", `{}`).Deliveries[0].ID)
		}
		claimed, err := st.DeliveryClaimDue(context.Background(), &store.DeliveryClaimParams{
			Owner: "dead-engine", Now: fake.Now(), Lease: time.Minute, Limit: 100, PerEndpoint: 100,
		})
		if err != nil || len(claimed) != 10 {
			t.Fatalf("dead engine claimed %d, %v; want 10", len(claimed), err)
		}
		b.run(t)
		b.advanceTo(t, claimed[0].LeaseUntil, "the dead engine's deliveries to be delivered", func() bool {
			for _, id := range ids {
				if b.get(t, id).Status != store.StatusDelivered {
					return false
				}
			}
			return true
		})
		if n := len(rc.got()); n != 10 {
			t.Errorf("receiver got %d, want 10", n)
		}
		for _, id := range ids {
			if at := b.attempts(t, id)[0].StartedAt; at.Before(claimed[0].LeaseUntil) {
				t.Errorf("delivery %s attempted at %s, while the dead engine's lease ran until %s", id, at, claimed[0].LeaseUntil)
			}
		}
	})
}

// TestEngine_KilledMidBatchLosesNothing runs an engine whose attempts
// either hang or are answered 200 at once, kills it as a crash would (its
// store is closed first, so nothing more it writes reaches the database,
// then its Run context is cut with no grace), and checks a fresh engine on
// another connection delivers everything. The hanging attempts were cut off
// in flight; the answered ones were sent but their batch never recorded:
// they are sent again, with the same webhook-id (at least once, never lost).
func TestEngine_KilledMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	twoHandles(t, func(t *testing.T, st, other store.Store) {
		hang := make(chan struct{})
		rc := newReceiver(t)
		var mu sync.Mutex
		answered := map[string]bool{} // webhook-ids the first engine had answered 200
		var firstEngine atomic.Bool
		firstEngine.Store(true)
		rc.setRespond(func(n int, r *http.Request, w http.ResponseWriter) {
			if firstEngine.Load() {
				if n%2 == 1 {
					mu.Lock()
					answered[r.Header.Get("webhook-id")] = true
					mu.Unlock()
					w.WriteHeader(200)
					return
				}
				select {
				case <-hang:
				case <-r.Context().Done():
				}
				return
			}
			w.WriteHeader(200)
		})
		// The first engine's batches wait an hour for more while attempts
		// hang: the answered attempts are sent and not yet recorded.
		first := setup(t, st, func(c *delivery.Config) {
			c.Lease = 2 * time.Second
			c.ShutdownGrace = time.Nanosecond
			c.BatchWait = time.Hour
			c.PerEndpoint = 8
		})
		first.endpoint(t, rc.URL, []string{"*"})
		var ids []string
		deliveryOf := map[string]string{} // webhook-id (event id) -> delivery id
		for range 20 {
			res := first.send(t, "a", `{}`)
			ids = append(ids, res.Deliveries[0].ID)
			deliveryOf[res.Event.ID] = res.Deliveries[0].ID
		}
		ctx, kill := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- first.engine.Run(ctx) }()
		// The endpoint's cap is 8 attempts sent at once, and once its
		// attempts are answered quickly the engine leases past the cap
		// (OwnLeaseFactor): each answered attempt makes room for the
		// next until 8 hang, requests 2, 4, ... 16, with the 8 odd ones
		// answered.
		waitFor(t, "the first engine to have answered and hanging attempts", 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(answered) == 8 && rc.inflight.Load() == 8
		})
		if err := st.Close(); err != nil {
			t.Fatalf("close the first engine's store: %v", err)
		}
		kill()
		<-done
		close(hang)
		firstEngine.Store(false)
		for id := range answered {
			if d, err := other.DeliveryGet(context.Background(), first.tenant, deliveryOf[id]); err != nil || d.Attempts != 0 {
				t.Fatalf("answered %s: %+v, %v; want it unrecorded when the engine died", id, d, err)
			}
		}

		formats := catalog.New(other, "", nil)
		second := &bundle{st: other, formats: formats, tenant: first.tenant}
		second.engine = delivery.NewEngine(delivery.Config{
			Store: other, Formats: formats, Client: delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: true}),
			PollInterval: 100 * time.Millisecond,
		})
		second.run(t)
		for _, id := range ids {
			second.waitStatus(t, id, store.StatusDelivered, 20*time.Second)
		}
		sent := map[string]int{}
		for _, r := range rc.got() {
			sent[r.header.Get("webhook-id")]++
		}
		for id := range answered {
			if sent[id] != 2 {
				t.Errorf("%s, answered before the crash but not recorded, was received %d times, want twice with the same webhook-id", id, sent[id])
			}
			if atts := second.attempts(t, deliveryOf[id]); len(atts) != 1 || atts[0].ResponseCode != 200 {
				t.Errorf("%s's attempts %+v, want the one the second engine recorded", deliveryOf[id], atts)
			}
		}
	})
}

// twoHandles runs fn on each database with two Stores on one fresh
// database, as two processes would have.
func twoHandles(t *testing.T, fn func(t *testing.T, a, b store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := dbtest.SQLitePath(t)
		a := dbtest.OpenSQLite(t, path, true)
		fn(t, a, dbtest.OpenSQLite(t, path, false))
	})
	if os.Getenv(dbtest.EnvPostgres) != "" {
		t.Run("postgres", func(t *testing.T) {
			url := dbtest.PostgresURL(t)
			a := dbtest.OpenPostgres(t, url, true)
			fn(t, a, dbtest.OpenPostgres(t, url, false))
		})
	}
}

// TestEngine_TwoEnginesShareOnePostgres: two nodes on one database split the
// work and never send the same delivery at the same time.
func TestEngine_TwoEnginesShareOnePostgres(t *testing.T) {
	t.Parallel()
	url := dbtest.PostgresURL(t)
	st1, st2 := dbtest.OpenPostgres(t, url, true), dbtest.OpenPostgres(t, url, true)
	b1 := setup(t, st1)
	formats2 := catalog.New(st2, "", nil)
	var mu sync.Mutex
	active := map[string]bool{}
	seen := map[string]int{}
	var overlaps atomic.Int32
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
		id := r.URL.Path + " " + r.Header.Get("webhook-id")
		mu.Lock()
		if active[id] {
			overlaps.Add(1)
		}
		active[id] = true
		seen[id]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		delete(active, id)
		mu.Unlock()
		w.WriteHeader(200)
	})
	for i := range 3 {
		b1.endpoint(t, fmt.Sprintf("%s/ep%d", rc.URL, i), []string{"*"})
	}
	b2 := &bundle{st: st2, formats: formats2, tenant: b1.tenant, engine: delivery.NewEngine(delivery.Config{
		Store: st2, Formats: formats2, Client: delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: true}), PollInterval: 200 * time.Millisecond,
	})}
	b1.run(t)
	b2.run(t)
	var ids []string
	for range 100 {
		for _, d := range b1.send(t, "a", `{}`).Deliveries {
			ids = append(ids, d.ID)
		}
	}
	for _, id := range ids {
		b1.waitStatus(t, id, store.StatusDelivered, 30*time.Second)
	}
	if n := len(rc.got()); n != 300 {
		t.Errorf("receiver got %d requests, want exactly 300 (100 events x 3 endpoints)", n)
	}
	if o := overlaps.Load(); o != 0 {
		t.Errorf("%d requests overlapped another for the same event at the same endpoint", o)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times, want once", k, n)
		}
	}
}

// TestEngine_HeartbeatKeepsALongAttempt: an attempt that runs longer than
// the lease keeps its delivery, because every third of the lease the
// engine moves the lease on; another engine looking meanwhile finds
// nothing to take.
func TestEngine_HeartbeatKeepsALongAttempt(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		const lease = 3 * time.Second
		b := setup(t, st, onClock(fake), func(c *delivery.Config) { c.Lease = lease })
		b.putFormat(t, `{"name":"slow","timeout":"2m","retry":{"schedule":[]}}`)
		release := make(chan struct{})
		rc := newReceiver(t)
		rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(200)
		})
		b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "slow" })
		b.run(t)
		released := false
		defer func() {
			if !released {
				close(release)
			}
		}()

		id := b.send(t, "a", `{}`).Deliveries[0].ID
		waitFor(t, "the attempt to reach the receiver", 10*time.Second, func() bool { return rc.inflight.Load() == 1 })
		for range 6 { // 6s of attempt on a 3s lease
			fake.Advance(lease / 3)
			now := fake.Now()
			// The only delivery in the store is due again when its lease
			// runs out.
			waitFor(t, "the heartbeat to move the lease on", 10*time.Second, func() bool {
				until, err := st.DeliveryNextDue(ctx)
				if err != nil {
					t.Fatalf("next due: %v", err)
				}
				return !until.Before(now.Add(lease))
			})
			other, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
				Owner: "other-engine", Now: now, Lease: lease, Limit: 10, PerEndpoint: 10,
			})
			if err != nil || len(other) != 0 {
				t.Fatalf("another engine claimed %d deliveries (%v) while the attempt ran, want none", len(other), err)
			}
		}
		close(release)
		released = true
		b.waitStatus(t, id, store.StatusDelivered, 10*time.Second)
		if n := len(rc.got()); n != 1 {
			t.Errorf("receiver got %d requests, want 1", n)
		}
	})
}

// TestEngine_RateLimitSpacesAttempts: an endpoint with rate_limit 5 gets at
// most 5 attempts in any second: one every 200ms, however many are due.
func TestEngine_RateLimitSpacesAttempts(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	st := dbtest.SQLite(t, store.WithClock(fake))
	b := setup(t, st, onClock(fake))
	rc := newReceiver(t)
	rc.onClock(fake)
	b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.RateLimit = 5 })
	b.run(t)
	var ids []string
	for range 15 {
		ids = append(ids, b.send(t, "a", `{}`).Deliveries[0].ID)
	}
	// Steps a little longer than 200ms: each lets exactly one more through.
	const step = 201 * time.Millisecond
	for n := 1; n <= len(ids); n++ {
		waitFor(t, fmt.Sprintf("request %d", n), 10*time.Second, func() bool { return len(rc.got()) >= n })
		if got := len(rc.got()); got != n {
			t.Fatalf("%d requests after %s, want %d: one per 200ms", got, time.Duration(n-1)*step, n)
		}
		fake.Advance(step)
	}
	for _, id := range ids {
		b.waitStatus(t, id, store.StatusDelivered, 10*time.Second)
	}
	got := rc.got()
	for i := 5; i < len(got); i++ {
		if w := got[i].at.Sub(got[i-5].at); w < time.Second {
			t.Errorf("requests %d..%d arrived within %s: more than 5 in a second", i-5, i, w)
		}
	}
}

// TestEngine_SecretThatDoesNotSuitTheSchemeFailsAtOnce: an endpoint whose
// secret cannot key its format's scheme (a plain string under
// standard-webhooks, after its format changed) fails without retries.
func TestEngine_SecretThatDoesNotSuitTheSchemeFailsAtOnce(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	b := setup(t, st)
	rc := newReceiver(t)
	b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Secret = "not-a-whsec-secret" })
	b.run(t)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
	atts, _ := st.DeliveryAttempts(context.Background(), d.ID)
	if len(atts) != 1 || !strings.HasPrefix(atts[0].Error, "sign:") || len(rc.got()) != 0 {
		t.Errorf("attempts %+v, receiver got %d: want one failed attempt saying the secret cannot sign, nothing sent", atts, len(rc.got()))
	}
}

// A format that repeats the event's data until the body passes the limit
// fails the delivery at once, unsent, instead of sending and storing many
// times the event on every attempt.
func TestEngine_AmplifyingFormatFailsAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, func(c *delivery.Config) { c.MaxRenderedBody = 4 << 10 })
		body := map[string]string{}
		for i := range 10 {
			body[fmt.Sprintf("copy%d", i)] = "{{event.data}}"
		}
		def, _ := json.Marshal(map[string]any{"name": "echo", "body": body, "retry": map[string]any{"schedule": []string{"10ms"}}})
		b.putFormat(t, string(def))
		rc := newReceiver(t)
		b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "echo" })
		b.run(t)
		pad := strings.Repeat("x", 1000)
		d := b.send(t, "user.created", `{"pad":"`+pad+`"}`).Deliveries[0]
		got := b.waitStatus(t, d.ID, store.StatusFailed, 10*time.Second)
		if !strings.Contains(got.LastError, "past the limit") {
			t.Errorf("last error %q, want the body limit named", got.LastError)
		}
		if n := len(rc.got()); n != 0 {
			t.Errorf("receiver got %d requests, want none", n)
		}
	})
}
