package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// batchSpy is a real store that notes the size of every batch recorded.
type batchSpy struct {
	store.Store
	mu      sync.Mutex
	batches []int
}

func (s *batchSpy) DeliveryRecordAttempts(ctx context.Context, ps []*store.AttemptRecordParams) ([]store.AttemptRecordResult, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(ps))
	s.mu.Unlock()
	return s.Store.DeliveryRecordAttempts(ctx, ps)
}

func (s *batchSpy) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// seedEvents stores a tenant "acme" with one endpoint and n events.
func seedEvents(t *testing.T, st store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.TenantGet(ctx, "acme"); err != nil {
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme", CreatedAt: tp0, UpdatedAt: tp0}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com", Events: []string{"*"}, Enabled: true, Secret: "whsec_x"}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		ev := &store.Event{TenantID: "acme", ID: id.NewAt(id.Event, tp0), Type: "a", Data: []byte(`{}`), Source: store.SourceAPI, CreatedAt: tp0}
		ev.Hash = store.EventHash(ev.Type, ev.Data)
		if _, err := st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: tp0}); err != nil {
			t.Fatal(err)
		}
	}
}

// seed stores n deliveries and claims them for owner "me".
func seed(t *testing.T, st store.Store, n int) []*store.Claimed {
	t.Helper()
	ctx := context.Background()
	seedEvents(t, st, n)
	cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "me", Now: tp0, Lease: time.Hour, Limit: n, PerEndpoint: n})
	if err != nil || len(cs) != n {
		t.Fatalf("claimed %d, %v; want %d", len(cs), err, n)
	}
	return cs
}

// outcomes collects what the completer told each attempt.
type outcomes struct {
	mu  sync.Mutex
	got map[string]error
	n   map[string]int
}

func (o *outcomes) completion(c *store.Claimed, owner string) *completion {
	return &completion{
		p: &store.AttemptRecordParams{
			DeliveryID: c.Delivery.ID, Owner: owner, Status: store.StatusDelivered, Now: tp0,
			Attempt: &store.Attempt{StartedAt: tp0, ResponseCode: 200},
		},
		done: func(att *store.Attempt, err error) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.got[c.Delivery.ID] = err
			if att != nil {
				o.n[c.Delivery.ID] = att.Number
			}
		},
	}
}

func (o *outcomes) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.got)
}

type completerLab struct {
	c    *completer
	spy  *batchSpy
	busy atomic.Bool
	out  *outcomes
	done chan struct{}
}

func newCompleterLab(t *testing.T, st store.Store, c clock.Clock, maxBatch int, wait time.Duration) *completerLab {
	l := &completerLab{spy: &batchSpy{Store: st}, out: &outcomes{got: map[string]error{}, n: map[string]int{}}, done: make(chan struct{})}
	l.c = newCompleter(&completer{st: l.spy, clock: c, log: slog.New(slog.DiscardHandler),
		maxBatch: maxBatch, wait: wait, busy: l.busy.Load})
	return l
}

func (l *completerLab) start() { go func() { l.c.run(context.Background()); close(l.done) }() }

func (l *completerLab) stop(t *testing.T) {
	t.Helper()
	l.c.close()
	<-l.done
}

func wantBatches(t *testing.T, l *completerLab, want ...int) {
	t.Helper()
	until(t, fmt.Sprintf("batches of %v", want), func() bool { return len(l.spy.sizes()) >= len(want) })
	if got := l.spy.sizes(); !slices.Equal(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
}

func TestCompleter_WritesABatchWhenFull(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		cs := seed(t, st, 4)
		l := newCompleterLab(t, st, clock.NewFake(tp0), 3, time.Hour)
		l.busy.Store(true)
		for _, c := range cs {
			l.c.add(l.out.completion(c, "me"))
		}
		l.start()
		// Three fill a batch at once; the fourth waits for more (attempts
		// are still being sent, the clock does not move) until shutdown
		// flushes it.
		wantBatches(t, l, 3)
		l.stop(t)
		wantBatches(t, l, 3, 1)
		for _, c := range cs {
			if err, n := l.out.got[c.Delivery.ID], l.out.n[c.Delivery.ID]; err != nil || n != 1 {
				t.Errorf("%s: attempt %d, %v; want attempt 1 recorded", c.Delivery.ID, n, err)
			}
			d, err := st.DeliveryGet(context.Background(), "acme", c.Delivery.ID)
			if err != nil || d.Status != store.StatusDelivered || d.Attempts != 1 {
				t.Errorf("%s after the batch: %+v, %v; want delivered with 1 attempt", c.Delivery.ID, d, err)
			}
		}
	})
}

func TestCompleter_WaitsBrieflyForMore(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(tp0)
		cs := seed(t, st, 3)
		l := newCompleterLab(t, st, fake, 100, 2*time.Millisecond)
		l.busy.Store(true)
		l.start()
		defer l.stop(t)
		l.c.add(l.out.completion(cs[0], "me"))
		until(t, "the completer to wait for more", func() bool { return fake.Timers() == 1 })
		l.c.add(l.out.completion(cs[1], "me"))
		l.c.add(l.out.completion(cs[2], "me"))
		until(t, "the queue to be taken", func() bool { return len(l.c.in) == 0 })
		if got := l.spy.sizes(); len(got) != 0 {
			t.Fatalf("batches %v written before the wait was over", got)
		}
		fake.Advance(2 * time.Millisecond)
		wantBatches(t, l, 3)
		until(t, "every attempt to be told", func() bool { return l.out.count() == 3 })
	})
}

func TestCompleter_WritesAtOnceWhenNothingIsBeingSent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(tp0)
		cs := seed(t, st, 2)
		l := newCompleterLab(t, st, fake, 100, time.Hour)
		l.start()
		defer l.stop(t)
		// Nothing is being sent: a lone attempt goes out alone, at once.
		l.c.add(l.out.completion(cs[0], "me"))
		wantBatches(t, l, 1)
		// Something is: the next waits, until the last attempt being sent
		// is over and the dispatcher says so.
		l.busy.Store(true)
		l.c.add(l.out.completion(cs[1], "me"))
		until(t, "the completer to wait for more", func() bool { return fake.Timers() == 1 })
		l.busy.Store(false)
		l.c.nudge()
		wantBatches(t, l, 1, 1)
	})
}

func TestCompleter_LostLeaseFailsOnlyItsOwnAttempt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		cs := seed(t, st, 3)
		l := newCompleterLab(t, st, clock.NewFake(tp0), 100, time.Hour)
		l.c.add(l.out.completion(cs[0], "me"))
		l.c.add(l.out.completion(cs[1], "someone-else")) // not its lease
		l.c.add(l.out.completion(cs[2], "me"))
		l.start()
		l.stop(t)
		wantBatches(t, l, 3)
		if err := l.out.got[cs[1].Delivery.ID]; !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("the attempt on another's lease: %v, want ErrLeaseLost", err)
		}
		for _, c := range []*store.Claimed{cs[0], cs[2]} {
			if err := l.out.got[c.Delivery.ID]; err != nil || l.out.n[c.Delivery.ID] != 1 {
				t.Errorf("%s beside it: attempt %d, %v; want recorded", c.Delivery.ID, l.out.n[c.Delivery.ID], err)
			}
		}
		if d, _ := st.DeliveryGet(context.Background(), "acme", cs[1].Delivery.ID); d.Status != store.StatusDelivering || d.Attempts != 0 {
			t.Errorf("the refused delivery: %+v, want still delivering, no attempt", d)
		}
	})
}
