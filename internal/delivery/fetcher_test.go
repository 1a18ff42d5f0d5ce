package delivery

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestFetcher_ClaimsWhatThereIsRoomForWhenWoken: the fetcher claims as many
// as the dispatcher has room for, claims again when room is made, wakes on
// a notification of new work and on a retry coming due, and never waits
// for its poll (an hour, on a clock that moves only when told).
func TestFetcher_ClaimsWhatThereIsRoomForWhenWoken(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(tp0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		seedEvents(t, st, 5)
		wake, err := st.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var room atomic.Int64
		room.Store(3)
		f := &fetcher{st: st, clock: fake, perEndpoint: 100, wake: wake, soon: make(chan struct{}, 1)}
		freed, pushed := runFetcher(t, f, &room)

		next := func(what string, want int) []*store.Claimed {
			t.Helper()
			select {
			case cs := <-pushed:
				if len(cs) != want {
					t.Fatalf("%s: claimed %d, want %d", what, len(cs), want)
				}
				for _, c := range cs {
					if c.Delivery.Status != store.StatusDelivering {
						t.Fatalf("%s: %s is %s, want leased (delivering)", what, c.Delivery.ID, c.Delivery.Status)
					}
				}
				return cs
			case <-time.After(10 * time.Second):
				t.Fatalf("timed out waiting for %s", what)
				return nil
			}
		}
		first := next("the first claim, up to the room there is", 3)
		room.Add(2)
		freed <- struct{}{}
		next("the claim once room is made", 2)

		// Room, but nothing due: a new event's notification wakes it.
		room.Add(5)
		seedEvents(t, st, 1)
		next("the claim of a new event", 1)

		// A retry due in 10s is claimed when the clock reaches it.
		at := tp0.Add(10 * time.Second)
		if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: first[0].Delivery.ID, Owner: "me", Status: store.StatusRetrying, NextAttemptAt: &at, Now: tp0,
			Attempt: &store.Attempt{StartedAt: tp0, ResponseCode: 500},
		}); err != nil {
			t.Fatal(err)
		}
		// Room made says nothing of new work: the fetcher reads no next
		// due time for it, and claims nothing.
		freed <- struct{}{}
		until(t, "the fetcher to take the room signal", func() bool { return len(freed) == 0 && fake.Timers() == 1 })
		// The engine tells it of the retry once recorded.
		f.dueAt(at, false)
		until(t, "the fetcher to wait for the retry", func() bool { return len(f.soon) == 0 && fake.Timers() == 1 })
		select {
		case cs := <-pushed:
			t.Fatalf("claimed %d before the retry was due", len(cs))
		default:
		}
		fake.Set(at)
		if got := next("the claim of the retry", 1); got[0].Delivery.ID != first[0].Delivery.ID {
			t.Errorf("claimed %s, want the retried %s", got[0].Delivery.ID, first[0].Delivery.ID)
		}
	})
}

// TestFetcher_ClaimsInBatchesWhileWorkersHaveWork: with deliveries queued
// for the workers, room freed one place at a time is not claimed place by
// place; it is claimed once a batch of places is free, or as soon as the
// queue runs short.
func TestFetcher_ClaimsInBatchesWhileWorkersHaveWork(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		seedEvents(t, st, 10)
		var room, queued atomic.Int64
		queued.Store(10)
		claims := &claimLog{Store: st}
		f := &fetcher{
			st: claims, perEndpoint: 100, batch: 4,
			queued: func() int { return int(queued.Load()) },
		}
		freed, pushed := runFetcher(t, f, &room)
		free := func(n int64) {
			room.Add(n)
			freed <- struct{}{}
			until(t, "the fetcher to take the signal", func() bool { return len(freed) == 0 })
		}
		// Three places freed one by one, with 10 queued: no claim.
		for range 3 {
			free(1)
		}
		// The fetcher may still be between taking the last signal and
		// deciding; a fourth place makes a batch either way.
		free(1)
		nextClaim(t, pushed, "the claim of a batch of 4", 4)
		if n := claims.count(); n != 1 {
			t.Errorf("%d claims for 4 places freed one by one, want 1", n)
		}
		// The queue runs short: one free place is claimed at once.
		queued.Store(1)
		free(1)
		nextClaim(t, pushed, "the claim with the queue short", 1)
	})
}

// claimLog records each claim made through it, once the claim returns
// (a test that saw it may change what the next finds): whether it probed
// first (store.DeliveryClaimParams.Probe).
type claimLog struct {
	store.Store
	mu     sync.Mutex
	probes []bool
}

func (c *claimLog) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	cs, err := c.Store.DeliveryClaimDue(ctx, p)
	c.mu.Lock()
	c.probes = append(c.probes, p.Probe)
	c.mu.Unlock()
	return cs, err
}

// seen is whether each claim so far probed, in order.
func (c *claimLog) seen() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.probes)
}

// count is how many claims were made.
func (c *claimLog) count() int { return len(c.seen()) }

// runFetcher runs f until the test ends, with what every test of it
// shares: owner "me", a one-minute lease, an hour's poll (a clock that
// moves only when told, unless f has one), room counted in room, and
// what it returns: the channel that says room was made and the one each
// claim is pushed to.
func runFetcher(t *testing.T, f *fetcher, room *atomic.Int64) (freed chan struct{}, pushed chan []*store.Claimed) {
	t.Helper()
	freed, pushed = make(chan struct{}, 1), make(chan []*store.Claimed, 10)
	if f.clock == nil {
		f.clock = clock.NewFake(tp0)
	}
	f.log, f.owner, f.lease, f.poll = slog.New(slog.DiscardHandler), "me", time.Minute, time.Hour
	f.free = func() int { return int(room.Load()) }
	f.freed = freed
	f.push = func(cs []*store.Claimed) { room.Add(-int64(len(cs))); pushed <- cs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return freed, pushed
}

// nextClaim is the next claim pushed, which must be of want deliveries.
func nextClaim(t *testing.T, pushed <-chan []*store.Claimed, what string, want int) []*store.Claimed {
	t.Helper()
	select {
	case cs := <-pushed:
		if len(cs) != want {
			t.Fatalf("%s: claimed %d, want %d", what, len(cs), want)
		}
		return cs
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// TestFetcher_NoClaimWhenNothingIsDue: room freed while nothing is due
// makes no claim (a claim that finds nothing still takes its turn with the
// claims and hand-offs); new work's notification does.
func TestFetcher_NoClaimWhenNothingIsDue(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wake, err := st.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var room atomic.Int64
		room.Store(5)
		claims := &claimLog{Store: st}
		f := &fetcher{st: claims, perEndpoint: 100, batch: 1, wake: wake}
		freed, pushed := runFetcher(t, f, &room)
		for range 3 {
			freed <- struct{}{}
			until(t, "the fetcher to take the signal", func() bool { return len(freed) == 0 })
		}
		seedEvents(t, st, 1)
		nextClaim(t, pushed, "the claim of the new event", 1)
		if n := claims.count(); n != 1 {
			t.Errorf("%d claims, want 1: none while nothing was due", n)
		}
	})
}

// TestFetcher_SpacesClaimsAfterAShortOne: after a claim that took all
// there was, the next waits for the gap, however soon room is made, and
// then takes what came due meanwhile in one claim.
func TestFetcher_SpacesClaimsAfterAShortOne(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(tp0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		seedEvents(t, st, 2)
		wake, err := st.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var room atomic.Int64
		room.Store(10)
		const gap = 10 * time.Millisecond
		f := &fetcher{st: st, clock: fake, perEndpoint: 100, gap: gap, wake: wake}
		_, pushed := runFetcher(t, f, &room)
		next := func(what string, want int) {
			t.Helper()
			select {
			case cs := <-pushed:
				if len(cs) != want {
					t.Fatalf("%s: claimed %d, want %d", what, len(cs), want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("timed out waiting for %s", what)
			}
		}
		next("the first claim, short: 2 of the room of 10", 2)
		until(t, "the fetcher to wait", func() bool { return fake.Timers() == 1 })
		// Three new events: their notification wakes it within the gap; it
		// sets its timer to the gap's end and claims nothing before.
		seedEvents(t, st, 3)
		until(t, "the fetcher to wait for the gap", func() bool {
			d := fake.NextDeadline().Sub(fake.Now())
			return len(wake) == 0 && fake.Timers() == 1 && d > 0 && d <= gap
		})
		select {
		case cs := <-pushed:
			t.Fatalf("claimed %d within the gap", len(cs))
		case <-time.After(50 * time.Millisecond):
		}
		fake.Advance(gap)
		next("the claim at the gap's end, of the three that came meanwhile", 3)
	})
}

// TestFetcher_ProbesAfterAnEmptyClaim: after a claim that found nothing
// (due work, its endpoint's cap full) the next claim probes for room
// first, until a notification of new work; and a probing claim that finds
// room claims it.
func TestFetcher_ProbesAfterAnEmptyClaim(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		seedEvents(t, st, 2)
		// Notifications by hand: PostgreSQL's listener may also wake it
		// when it connects, which would end the probing at any time.
		wake := make(chan struct{}, 1)
		var room atomic.Int64
		room.Store(5)
		pc := &claimLog{Store: st}
		freed, pushed := runFetcher(t, &fetcher{st: pc, perEndpoint: 1, batch: 1, wake: wake, probes: true}, &room)
		claims := func(what string, want ...bool) {
			t.Helper()
			until(t, what, func() bool { return len(pc.seen()) >= len(want) })
			if got := pc.seen(); !slices.Equal(got, want) {
				t.Fatalf("%s: claims probed %v, want %v", what, got, want)
			}
		}
		first := nextClaim(t, pushed, "the first claim", 1)
		claims("the first claim", false)
		// The second delivery is due, its endpoint's cap of 1 full: the
		// claim room wakes finds nothing, and the one after it probes.
		freed <- struct{}{}
		claims("the empty claim", false, false)
		freed <- struct{}{}
		claims("the claim after the empty one", false, false, true)
		// New work's notification: the claim after it does not probe.
		seedEvents(t, st, 1)
		wake <- struct{}{}
		claims("the claim of the new event", false, false, true, false)
		// The first attempt recorded: the probing claim finds the room.
		if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: first[0].Delivery.ID, Owner: "me", Status: store.StatusDelivered, Now: tp0,
			Attempt: &store.Attempt{StartedAt: tp0, ResponseCode: 200},
		}); err != nil {
			t.Fatal(err)
		}
		freed <- struct{}{}
		nextClaim(t, pushed, "the probing claim that finds room", 1)
		claims("the probing claim that found room", false, false, true, false, true)
		// It claimed: the next, which finds the cap full again, does not
		// probe.
		freed <- struct{}{}
		claims("the claim after one that claimed", false, false, true, false, true, false)
	})
}
