package replay_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type bundle struct {
	st    store.Store
	clock *clock.Fake
	ep    *store.Endpoint
	// failed are the endpoint's failed deliveries, oldest first.
	failed []string
}

// setup stores tenant acme, one endpoint and n failed deliveries to it,
// made a minute apart an hour before the fake clock's now.
func setup(t *testing.T, st store.Store, clk *clock.Fake, n int) *bundle {
	t.Helper()
	ctx := t.Context()
	b := &bundle{st: st, clock: clk}
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
	b.ep = ep
	for i := range n {
		b.failed = append(b.failed, b.delivery(t, "user.created", start.Add(-time.Hour+time.Duration(i)*time.Minute), store.StatusFailed))
	}
	return b
}

// delivery stores an event of type typ at at for the endpoint and brings
// its delivery to status with one attempt.
func (b *bundle) delivery(t *testing.T, typ string, at time.Time, status string) string {
	t.Helper()
	ctx := t.Context()
	ev := &store.Event{TenantID: "acme", ID: id.NewAt(id.Event, at), Type: typ, Data: []byte(`{}`), TraceID: id.NewTraceID(), Source: store.SourceAPI, CreatedAt: at}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	res, err := b.st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: at, LeaseOwner: "w", LeaseUntil: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deliveries[0]
	if _, err := b.st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
		DeliveryID: d.ID, Owner: "w", Attempt: &store.Attempt{StartedAt: at, ResponseCode: 500}, Status: status, Now: at,
	}); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func (b *bundle) service(owner string, batch int) *replay.Service {
	return replay.NewService(&replay.Config{Base: service.Base{Store: b.st, Clock: b.clock}, Owner: owner, Batch: batch})
}

func (b *bundle) statuses(t *testing.T, ids []string) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		d, err := b.st.DeliveryGet(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.Status)
	}
	return out
}

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runService runs s.Run until the test ends.
func runService(t *testing.T, s *replay.Service) {
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

// A small replay is done by the time Start answers: its first batch runs
// at once.
func TestStart_RunsTheFirstBatchAtOnce(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(start)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st, clk, 3)
		ok := b.delivery(t, "user.created", start.Add(-30*time.Minute), store.StatusDelivered)
		r, err := b.service("a", 0).Start(t.Context(), "acme", b.ep.ID, &replay.StartParams{Since: start.Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.ReplayDone || r.Queued != 3 || r.DeliveryStatus != store.StatusFailed || !r.Until.Equal(start) {
			t.Fatalf("replay %+v, want done with the 3 failed deliveries queued, until now", r)
		}
		if got := b.statuses(t, append(b.failed, ok)); !slices.Equal(got, append(repeat(store.StatusPending, 3), store.StatusDelivered)) {
			t.Fatalf("deliveries after the replay: %v, want the 3 failed ones pending and the delivered one as it was", got)
		}
	})
}

func TestStart_Checks(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(start)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st, clk, 0)
		s := b.service("a", 0)
		ctx := t.Context()
		past := start.Add(-time.Hour)
		for _, tc := range []struct {
			name string
			p    replay.StartParams
			want []string
		}{
			{"until before since", replay.StartParams{Since: start, Until: &past}, []string{"until"}},
			{"since after now, until defaulting to now", replay.StartParams{Since: start.Add(time.Minute)}, []string{"until"}},
			{"pending deliveries", replay.StartParams{Since: past, Status: store.StatusPending}, []string{"status"}},
			{"a bad event type", replay.StartParams{Since: past, EventType: "user created"}, []string{"event_type"}},
			{"all at once", replay.StartParams{Since: start, Until: &past, Status: "x", EventType: "a..b"}, []string{"until", "status", "event_type"}},
		} {
			_, err := s.Start(ctx, "acme", b.ep.ID, &tc.p)
			if got := herald.Locations(err); !slices.Equal(got, tc.want) {
				t.Errorf("%s: faults at %v (%v), want %v", tc.name, got, err, tc.want)
			}
		}
		_, err := s.Start(ctx, "acme", "ep_nope", &replay.StartParams{Since: past})
		var he *herald.Error
		if !errors.Is(err, herald.ErrNotFound) || !errors.As(err, &he) || he.Message != "endpoint ep_nope not found" {
			t.Errorf("replay of a missing endpoint: %v, want ErrNotFound saying endpoint ep_nope not found", err)
		}
		_, err = s.Get(ctx, "acme", "rpl_nope")
		if !errors.As(err, &he) || he.Message != "replay rpl_nope not found" {
			t.Errorf("Get of a missing replay: %v, want ErrNotFound saying replay rpl_nope not found", err)
		}
		// Filters that are right are taken.
		r, err := s.Start(ctx, "acme", b.ep.ID, &replay.StartParams{Since: past, Status: store.StatusDelivered, EventType: "user.*"})
		if err != nil || r.DeliveryStatus != store.StatusDelivered || r.EventType != "user.*" {
			t.Fatalf("a replay of delivered user.* deliveries: %+v, %v", r, err)
		}
	})
}

// A replay longer than a batch goes on in Run, at once (Start kicks it),
// batch after batch.
func TestRun_FinishesWhatStartBegan(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(start)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st, clk, 7)
		s := b.service("a", 2)
		runService(t, s)
		r, err := s.Start(t.Context(), "acme", b.ep.ID, &replay.StartParams{Since: start.Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Queued < 2 {
			t.Fatalf("replay answered with %d queued, want the first batch's 2 at least", r.Queued)
		}
		waitFor(t, "the replay to end", func() bool {
			got, err := s.Get(t.Context(), "acme", r.ID)
			return err == nil && got.Status == store.ReplayDone
		})
		got, _ := s.Get(t.Context(), "acme", r.ID)
		if got.Queued != 7 || got.Scanned != 7 {
			t.Fatalf("replay ended with %d queued of %d scanned, want 7 of 7", got.Queued, got.Scanned)
		}
		if st := b.statuses(t, b.failed); !slices.Equal(st, repeat(store.StatusPending, 7)) {
			t.Fatalf("deliveries after the replay: %v, want all pending", st)
		}
	})
}

// A node that stops in the middle of a replay leaves it to the next: once
// its lease has run out, on the injected clock, another node's Run takes
// it up where it stopped, and queues every delivery once.
func TestRun_ResumesAReplayAfterARestart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		clk := clock.NewFake(start)
		b := setup(t, st, clk, 5)
		first := b.service("first", 2)
		r, err := first.Start(t.Context(), "acme", b.ep.ID, &replay.StartParams{Since: start.Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.ReplayRunning || r.Queued != 2 {
			t.Fatalf("after the first batch: %s with %d queued, want running with 2", r.Status, r.Queued)
		}
		// first stops here (it never runs Run). The next node's Run finds
		// the replay held, and waits for its poll.
		next := b.service("next", 2)
		runService(t, next)
		waitFor(t, "the next node's Run to wait for its poll", func() bool { return clk.Timers() > 0 })
		if got, _ := next.Get(t.Context(), "acme", r.ID); got.Queued != 2 || got.LeaseOwner != "first" {
			t.Fatalf("before the lease ran out: %d queued, held by %q; want 2, first's", got.Queued, got.LeaseOwner)
		}
		clk.Advance(replay.DefaultLease + replay.DefaultPoll)
		waitFor(t, "the replay to end", func() bool {
			got, err := next.Get(t.Context(), "acme", r.ID)
			return err == nil && got.Status == store.ReplayDone
		})
		got, _ := next.Get(t.Context(), "acme", r.ID)
		if got.Queued != 5 || got.Scanned != 5 {
			t.Fatalf("replay ended with %d queued of %d scanned, want 5 of 5", got.Queued, got.Scanned)
		}
		for _, id := range b.failed {
			d, _ := st.DeliveryGet(t.Context(), "acme", id)
			if d.Status != store.StatusPending || d.Attempts != 1 || d.SeriesAttempts != 0 {
				t.Errorf("delivery %s after the replay: %s, %d attempts, series %d; want pending once, its 1 attempt kept", id, d.Status, d.Attempts, d.SeriesAttempts)
			}
		}
	})
}

func TestList_NewestFirstAndByEndpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		clk := clock.NewFake(start)
		b := setup(t, st, clk, 0)
		s := b.service("a", 0)
		var want []string
		for range 3 {
			clk.Advance(time.Second)
			r, err := s.Start(t.Context(), "acme", b.ep.ID, &replay.StartParams{Since: start.Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{r.ID}, want...)
		}
		rows, err := s.List(t.Context(), "acme", &store.ReplayListParams{EndpointID: b.ep.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
	})
}
