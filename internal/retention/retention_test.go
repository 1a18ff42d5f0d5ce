package retention_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type bundle struct {
	st    store.Store
	clock *clock.Fake
	ep    *store.Endpoint
}

func setup(t *testing.T, st store.Store) *bundle {
	t.Helper()
	ctx := t.Context()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", CreatedAt: start, UpdatedAt: start}); err != nil {
		t.Fatal(err)
	}
	ep, err := st.EndpointCreate(ctx, &store.Endpoint{
		ID: id.NewAt(id.Endpoint, start), TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: start, UpdatedAt: start,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{st: st, clock: clock.NewFake(start), ep: ep}
}

// event stores an event at at with one delivery to the endpoint, brought
// to status with one attempt (or left pending), and returns the event's id.
func (b *bundle) event(t *testing.T, at time.Time, status string) string {
	t.Helper()
	ctx := t.Context()
	ev := &store.Event{TenantID: "acme", ID: id.NewAt(id.Event, at), Type: "user.created", Data: []byte(`{}`), TraceID: id.NewTraceID(), Source: store.SourceAPI, CreatedAt: at}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	p := &store.EventCreateParams{Event: ev, Now: at}
	if status != store.StatusPending {
		p.LeaseOwner, p.LeaseUntil = "w", at.Add(time.Hour)
	}
	res, err := b.st.EventCreate(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if status != store.StatusPending {
		if _, err := b.st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: res.Deliveries[0].ID, Owner: "w", Attempt: &store.Attempt{StartedAt: at, ResponseCode: 200}, Status: status, Now: at,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return ev.ID
}

func (b *bundle) exists(t *testing.T, eventID string) bool {
	t.Helper()
	_, err := b.st.EventGet(t.Context(), "acme", eventID)
	return err == nil
}

// run runs the sweeper until the test ends.
func run(t *testing.T, s *retention.Sweeper) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func next(t *testing.T, runs <-chan *retention.Run) *retention.Run {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no retention run within 10s")
		return nil
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Old finished events go, in batches, with their deliveries and attempts;
// an old event still being delivered and a recent one stay; each run
// shows in the log and in the totals; and the next run, on the clock,
// takes what has grown old since.
func TestRun_DeletesOldFinishedEvents(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		day := 24 * time.Hour
		var old []string
		for i := range 5 {
			status := store.StatusDelivered
			if i%2 == 1 {
				status = store.StatusFailed
			}
			old = append(old, b.event(t, start.Add(-3*day+time.Duration(i)*time.Minute), status))
		}
		busy := b.event(t, start.Add(-2*day), store.StatusPending)
		recent := b.event(t, start.Add(-time.Hour), store.StatusDelivered)

		var logs lockedBuffer
		runs := make(chan *retention.Run, 10)
		s := retention.New(&retention.Config{
			Base:      service.Base{Store: st, Clock: b.clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))},
			Retention: day, Batch: 2, OnRun: func(r *retention.Run) { runs <- r },
		})
		run(t, s)
		r := next(t, runs)
		if r.Err != nil || r.Events != 5 || r.Deliveries != 5 || r.Attempts != 5 || r.Scanned != 6 || r.Batches != 5 {
			t.Fatalf("first run %+v, want 5 events, deliveries and attempts deleted of 6 looked at, in 5 batches of 2 (acme's last empty, then the operator's tenant's, empty)", r)
		}
		if !r.Before.Equal(start.Add(-day)) {
			t.Errorf("cutoff %v, want a day before now, %v", r.Before, start.Add(-day))
		}
		for _, ev := range old {
			if b.exists(t, ev) {
				t.Errorf("old finished event %s is still there", ev)
			}
		}
		if !b.exists(t, busy) || !b.exists(t, recent) {
			t.Fatalf("the event still being delivered (%v) or the recent one (%v) is gone", b.exists(t, busy), b.exists(t, recent))
		}
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "retention run" {
				line = m
			}
		}
		if line == nil || line["events"] != float64(5) || line["deliveries"] != float64(5) || line["attempts"] != float64(5) {
			t.Errorf("log has no line of the run with its figures: %s", logs.String())
		}

		// A day and a half on, the recent event is old too.
		b.clock.Advance(day + 12*time.Hour)
		r = next(t, runs)
		if r.Events != 1 || b.exists(t, recent) || !b.exists(t, busy) {
			t.Fatalf("second run %+v: the recent event is there %v, the busy one %v; want only the recent one gone", r, b.exists(t, recent), b.exists(t, busy))
		}
		if got := s.Totals(); got.Runs != 2 || got.Events != 6 || got.Deliveries != 6 || got.Attempts != 6 || got.Failed != 0 || !got.LastRun.Equal(r.Ended) {
			t.Errorf("totals %+v, want 2 runs, 6 events, deliveries and attempts, the last run's end", got)
		}
	})
}

// A deleted endpoint's deliveries stay readable until retention deletes
// them; the run that deletes the last of them purges the endpoint too,
// and a deleted endpoint with a recent delivery left stays until that one
// is old.
func TestRun_PurgesDeletedEndpointsOnceTheirDeliveriesAreGone(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ctx := t.Context()
		b := setup(t, st)
		day := 24 * time.Hour
		oldEv := b.event(t, start.Add(-3*day), store.StatusDelivered)
		// A second endpoint, deleted with a delivery a day newer.
		other, err := st.EndpointCreate(ctx, &store.Endpoint{
			ID: id.NewAt(id.Endpoint, start), TenantID: "acme", URL: "https://example.com/other", Events: []string{"none"},
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: start, UpdatedAt: start,
		})
		if err != nil {
			t.Fatal(err)
		}
		at := start.Add(-time.Hour)
		ev := &store.Event{TenantID: "acme", ID: id.NewAt(id.Event, at), Type: "user.created", Data: []byte(`{}`), TraceID: id.NewTraceID(), Source: store.SourceAPI, CreatedAt: at}
		ev.Hash = store.EventHash(ev.Type, ev.Data)
		res, err := st.EventCreate(ctx, &store.EventCreateParams{Event: ev, EndpointIDs: []string{other.ID}, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		recentDlv := res.Deliveries[0].ID
		for _, ep := range []string{b.ep.ID, other.ID} {
			if err := st.EndpointDelete(ctx, "acme", ep); err != nil {
				t.Fatal(err)
			}
		}

		runs := make(chan *retention.Run, 10)
		s := retention.New(&retention.Config{
			Base: service.Base{Store: st, Clock: b.clock}, Retention: day, Every: day,
			OnRun: func(r *retention.Run) { runs <- r },
		})
		run(t, s)
		r := next(t, runs)
		if r.Err != nil || r.Events != 1 || r.Endpoints != 1 || b.exists(t, oldEv) {
			t.Fatalf("first run %+v, want the old event and its deleted endpoint gone", r)
		}
		// The recent delivery, failed when its endpoint was deleted, is
		// still there to read, and so its endpoint is kept.
		d, err := st.DeliveryGet(ctx, "acme", recentDlv)
		if err != nil || !d.EndpointDeleted {
			t.Fatalf("the deleted endpoint's recent delivery: %+v, %v; want it readable, its endpoint marked deleted", d, err)
		}
		b.clock.Advance(day)
		if r := next(t, runs); r.Err != nil || r.Events != 1 || r.Endpoints != 1 {
			t.Fatalf("second run %+v, want the recent event, now old, and its endpoint gone", r)
		}
		if got := s.Totals(); got.Endpoints != 2 {
			t.Errorf("totals %+v, want 2 endpoints purged", got)
		}
	})
}

// While another node holds the lease this one does not run; once it is
// free, it does.
func TestRun_OneNodeAtATime(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		old := b.event(t, start.Add(-48*time.Hour), store.StatusDelivered)
		held, err := st.LeaseTake(t.Context(), &store.LeaseParams{Name: retention.LeaseName, Owner: "other-node", Now: start, Until: start.Add(time.Hour)})
		if err != nil || !held {
			t.Fatalf("the other node's lease: %v, %v", held, err)
		}
		runs := make(chan *retention.Run, 10)
		s := retention.New(&retention.Config{
			Base: service.Base{Store: st, Clock: b.clock}, Retention: 24 * time.Hour, Every: time.Hour,
			OnRun: func(r *retention.Run) { runs <- r },
		})
		run(t, s)
		// The first pass is over once the next is set.
		waitTimers(t, b.clock)
		if len(runs) != 0 || s.Totals().Runs != 0 || !b.exists(t, old) {
			t.Fatalf("ran while another node held the lease: %d runs, old event there %v", s.Totals().Runs, b.exists(t, old))
		}
		b.clock.Advance(time.Hour) // the other node's lease runs out
		if r := next(t, runs); r.Events != 1 || b.exists(t, old) {
			t.Fatalf("run after the lease ran out %+v, want the old event deleted", r)
		}
		// The run gave the lease up.
		if ok, err := st.LeaseTake(t.Context(), &store.LeaseParams{Name: retention.LeaseName, Owner: "other-node", Now: b.clock.Now(), Until: b.clock.Now().Add(time.Minute)}); err != nil || !ok {
			t.Errorf("the lease after a run: taken %v, %v; want it free", ok, err)
		}
	})
}

func waitTimers(t *testing.T, clk *clock.Fake) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clk.Timers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never set its next run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRun_ZeroRetentionKeepsEverything(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	b := setup(t, st)
	old := b.event(t, start.Add(-1000*time.Hour), store.StatusDelivered)
	s := retention.New(&retention.Config{Base: service.Base{Store: st, Clock: b.clock}})
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !b.exists(t, old) || s.Totals().Runs != 0 {
		t.Fatal("a retention of 0 deleted something")
	}
}

func TestNew_EveryFollowsTheRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ retention, every, want time.Duration }{
		{retention.DefaultRetention, 0, retention.MaxEvery},
		{time.Minute, 0, 30 * time.Second},
		{time.Second, 0, time.Second},
		{time.Minute, 5 * time.Second, 5 * time.Second},
	} {
		s := retention.New(&retention.Config{Retention: tc.retention, Every: tc.every})
		if got := s.Every(); got != tc.want {
			t.Errorf("retention %v, every %v: runs every %v, want %v", tc.retention, tc.every, got, tc.want)
		}
	}
}
