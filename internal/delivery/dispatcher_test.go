package delivery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

var tp0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// until waits for cond, failing the test if it has not come in 10s: the
// parts run on goroutines of their own.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lab runs a dispatcher whose attempts block until the test finishes them.
type lab struct {
	d        *dispatcher
	mu       sync.Mutex
	running  []string                 // delivery ids being attempted
	finish   map[string]chan struct{} // closed to end an attempt
	settles  map[string]func()
	released []string
	ownCap   map[string]int    // endpoints' own max_in_flight
	tenantOf map[string]string // endpoints' tenants; "" when not set
	turns    map[string]time.Time
	failed   map[string]bool // attempts that end undelivered
}

// newLab's turns are deliveries' rate limit turns (Claimed.NotBefore), by
// name; the others go at once.
func newLab(t *testing.T, c clock.Clock, workers, perEndpoint, capacity int, turns map[string]time.Time) *lab {
	l := &lab{finish: map[string]chan struct{}{}, settles: map[string]func(){}, turns: turns, failed: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.d = newDispatcher(&dispatcher{
		ctx: ctx, clock: c, workers: workers, perEndpoint: perEndpoint, capacity: capacity,
		run: func(ctx context.Context, c *store.Claimed, settled func()) ended {
			id := c.Delivery.ID
			l.mu.Lock()
			l.running = append(l.running, id)
			fin := l.finish[id]
			l.settles[id] = settled
			l.mu.Unlock()
			select {
			case <-fin:
			case <-ctx.Done():
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			l.running = slices.DeleteFunc(l.running, func(s string) bool { return s == id })
			if l.failed[id] {
				return failed
			}
			return delivered
		},
		release: func(_ context.Context, c *store.Claimed) {
			l.mu.Lock()
			l.released = append(l.released, c.Delivery.ID)
			l.mu.Unlock()
		},
	})
	go l.d.turns(ctx)
	return l
}

// push hands the dispatcher deliveries named endpoint/n.
func (l *lab) push(names ...string) {
	var cs []*store.Claimed
	l.mu.Lock()
	for _, n := range names {
		ep, _, _ := cut(n)
		l.finish[n] = make(chan struct{})
		cs = append(cs, &store.Claimed{
			Delivery:  &store.Delivery{ID: n, TenantID: l.tenantOf[ep]},
			Endpoint:  &store.Endpoint{ID: ep, TenantID: l.tenantOf[ep], MaxInFlight: l.ownCap[ep]},
			NotBefore: l.turns[n],
		})
	}
	l.mu.Unlock()
	l.d.push(cs)
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (l *lab) end(id string) {
	l.mu.Lock()
	close(l.finish[id])
	l.mu.Unlock()
}

func (l *lab) sending() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.running)
	slices.Sort(out)
	return out
}

// settled waits for id's attempt to be over and settles it, as the
// completer does once its record is written.
func (l *lab) settle(t *testing.T, id string) {
	t.Helper()
	until(t, id+"'s attempt to be over", func() bool { return !slices.Contains(l.sending(), id) })
	l.mu.Lock()
	s := l.settles[id]
	l.mu.Unlock()
	s()
}

// idle reports the dispatcher's own count: no attempt being sent.
func (l *lab) idle() bool { return !l.d.busy() }

func wantSending(t *testing.T, l *lab, want ...string) {
	t.Helper()
	slices.Sort(want)
	until(t, fmt.Sprintf("%v to be sending", want), func() bool { return slices.Equal(l.sending(), want) })
	// And nothing more: the dispatcher's own count agrees.
	l.d.mu.Lock()
	n := l.d.sending
	l.d.mu.Unlock()
	if n != len(want) {
		t.Fatalf("dispatcher counts %d sending, want %d (%v)", n, len(want), want)
	}
}

func TestDispatcher_CapsWorkersAndEachEndpoint(t *testing.T) {
	t.Parallel()
	l := newLab(t, clock.NewFake(tp0), 3, 2, 100, nil)
	l.push("a/1", "a/2", "a/3", "a/4", "b/1", "b/2")
	// Two of a's (its cap), and b's first on the third worker: a's backlog
	// does not keep b waiting.
	wantSending(t, l, "a/1", "a/2", "b/1")
	l.end("a/1")
	// a has room again: its next goes before b's second.
	wantSending(t, l, "a/2", "a/3", "b/1")
	l.end("b/1")
	wantSending(t, l, "a/2", "a/3", "b/2")
	l.end("a/2")
	l.end("a/3")
	wantSending(t, l, "a/4", "b/2")
	l.end("a/4")
	l.end("b/2")
	until(t, "every attempt to be over", l.idle)
}

// Free workers go to the tenants with work in turn, and no tenant sends
// more than its share at once: a tenant's older backlog over many
// endpoints does not keep another tenant's delivery waiting for a worker.
func TestDispatcher_TenantsTakeTurnsWithinTheirShare(t *testing.T) {
	t.Parallel()
	l := newLab(t, clock.NewFake(tp0), 3, 10, 100, nil)
	l.tenantOf = map[string]string{"h1": "hog", "h2": "hog", "h3": "hog", "q": "quiet"}
	l.d.perTenant = 2
	l.push("h1/1", "h2/1", "h3/1", "h1/2", "h2/2", "q/1", "q/2")
	// Three workers, in turn: hog's first, quiet's first, hog's second.
	wantSending(t, l, "h1/1", "h2/1", "q/1")
	l.end("q/1")
	// quiet's turn again before hog's third, though hog's came first.
	wantSending(t, l, "h1/1", "h2/1", "q/2")
	l.end("q/2")
	// quiet has nothing left and hog is at its share: the worker waits.
	until(t, "q/2 to be over", func() bool { return !slices.Contains(l.sending(), "q/2") })
	wantSending(t, l, "h1/1", "h2/1")
	l.end("h1/1")
	wantSending(t, l, "h2/1", "h3/1")
	for _, id := range []string{"h2/1", "h3/1"} {
		l.end(id)
	}
	wantSending(t, l, "h1/2", "h2/2")
	l.end("h1/2")
	l.end("h2/2")
	until(t, "every attempt to be over", l.idle)
}

// An endpoint is eager (leased past its cap) only while its attempts are
// delivered quickly: one that answers slowly, fails, or has had no
// attempt for a while is not.
func TestDispatcher_EagerEndpointsAreThoseDeliveredQuickly(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(tp0)
	l := newLab(t, clk, 10, 10, 100, nil)
	eager := func() []string { return slices.Sorted(slices.Values(l.d.eagerIDs())) }
	l.failed["bad/1"], l.failed["fast/3"] = true, true
	if got := eager(); len(got) != 0 {
		t.Fatalf("eager before any attempt = %v, want none", got)
	}
	l.push("fast/1", "slow/1", "bad/1")
	wantSending(t, l, "fast/1", "slow/1", "bad/1")
	l.end("fast/1")
	l.end("bad/1")
	until(t, "fast/1 and bad/1 to be over", func() bool { return slices.Equal(l.sending(), []string{"slow/1"}) })
	if got := eager(); !slices.Equal(got, []string{"fast"}) {
		t.Fatalf("eager = %v, want [fast]: bad's attempt failed, slow's goes on", got)
	}
	clk.Advance(eagerWithin)
	l.end("slow/1")
	until(t, "slow/1 to be over", l.idle)
	if got := eager(); len(got) != 0 {
		t.Fatalf("eager = %v, want none: fast's success is %v old, slow's took as long", got, eagerWithin)
	}
	l.push("fast/2")
	wantSending(t, l, "fast/2")
	l.end("fast/2")
	until(t, "fast/2 to be over", l.idle)
	if got := eager(); !slices.Equal(got, []string{"fast"}) {
		t.Fatalf("eager = %v, want [fast] again", got)
	}
	l.push("fast/3")
	wantSending(t, l, "fast/3")
	l.end("fast/3")
	until(t, "fast/3 to be over", l.idle)
	if got := eager(); len(got) != 0 {
		t.Fatalf("eager = %v, want none: fast's last attempt failed", got)
	}
}

// Once store.OneAtATimeAfter attempts in a row to an endpoint have
// failed, its next waits until probeEvery after the last ended; a
// delivered one ends the streak.
func TestDispatcher_SpacesAttemptsToAFailingEndpoint(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(tp0)
	l := newLab(t, clk, 10, 1, 100, nil)
	var names []string
	for i := range store.OneAtATimeAfter + 2 {
		n := fmt.Sprintf("down/%d", i)
		names = append(names, n)
		if i <= store.OneAtATimeAfter {
			l.failed[n] = true
		}
	}
	l.push(append(names, "up/1")...)
	// The streak: one after another, at once.
	for i := range store.OneAtATimeAfter {
		wantSending(t, l, names[i], "up/1")
		l.end(names[i])
	}
	// The next waits for its probe: other endpoints do not.
	l.end("up/1")
	until(t, "the failed attempts and up/1 to be over", l.idle)
	l.push("up/2")
	wantSending(t, l, "up/2")
	l.end("up/2")
	until(t, "up/2 to be over", l.idle)
	clk.Advance(probeEvery - time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	if got := l.sending(); len(got) != 0 {
		t.Fatalf("sending %v before the probe's time, want nothing", got)
	}
	clk.Advance(time.Millisecond)
	probe := names[store.OneAtATimeAfter]
	wantSending(t, l, probe)
	l.end(probe) // fails too: the next waits as long again
	until(t, probe+" to be over", l.idle)
	clk.Advance(probeEvery)
	last := names[store.OneAtATimeAfter+1]
	wantSending(t, l, last)
	l.end(last) // delivered: the streak is over
	until(t, last+" to be over", l.idle)
	l.push("down/x")
	wantSending(t, l, "down/x")
	l.end("down/x")
	until(t, "down/x to be over", l.idle)
}

func TestDispatcher_EndpointsOwnCapWhenLower(t *testing.T) {
	t.Parallel()
	l := newLab(t, clock.NewFake(tp0), 4, 2, 100, nil)
	l.ownCap = map[string]int{"one": 1, "five": 5}
	l.push("one/1", "one/2", "five/1", "five/2", "five/3")
	// one's max_in_flight 1 is below the server's 2; five's 5 is above it.
	wantSending(t, l, "one/1", "five/1", "five/2")
	l.end("one/1")
	wantSending(t, l, "one/2", "five/1", "five/2")
	l.end("five/1")
	wantSending(t, l, "one/2", "five/2", "five/3")
	for _, id := range []string{"one/2", "five/2", "five/3"} {
		l.end(id)
	}
	until(t, "every attempt to be over", l.idle)
}

func TestDispatcher_HoldsUntilSettled(t *testing.T) {
	t.Parallel()
	l := newLab(t, clock.NewFake(tp0), 2, 10, 3, nil)
	if n := l.d.free(); n != 3 {
		t.Fatalf("free room %d, want the capacity 3", n)
	}
	l.push("a/1", "a/2", "a/3")
	if n := l.d.free(); n != 0 {
		t.Fatalf("free room %d after taking 3 of 3, want 0", n)
	}
	wantSending(t, l, "a/1", "a/2")
	l.end("a/1")
	wantSending(t, l, "a/2", "a/3")
	// An attempt that is over but not recorded still holds its place.
	if n := l.d.free(); n != 0 {
		t.Fatalf("free room %d with a/1 over but not settled, want 0", n)
	}
	select {
	case <-l.d.freed:
		t.Fatal("room signalled before anything was settled")
	default:
	}
	// It is settling: the claims leave its lease out of the caps.
	until(t, "a/1 to be settling", func() bool { return slices.Equal(l.d.settlingIDs(), []string{"a/1"}) })
	l.settle(t, "a/1")
	if n := l.d.free(); n != 1 {
		t.Fatalf("free room %d after a/1 settled, want 1", n)
	}
	if ids := l.d.settlingIDs(); len(ids) != 0 {
		t.Fatalf("settling %v after a/1 settled, want none", ids)
	}
	select {
	case <-l.d.freed:
	default:
		t.Fatal("settling made room but did not signal it")
	}
	l.end("a/2")
	l.end("a/3")
}

// The active count, by endpoint, is what the dispatcher holds whose
// attempt has not ended: waiting for a worker or the cap, or being sent.
// An attempt that ended leaves it at once, before its record settles it;
// so does a delivery handed back unsent.
func TestDispatcher_CountsActiveByEndpoint(t *testing.T) {
	t.Parallel()
	l := newLab(t, clock.NewFake(tp0), 2, 1, 10, nil)
	l.push("a/1", "a/2", "a/3", "b/1")
	wantSending(t, l, "a/1", "b/1")
	if got := l.d.activeByEndpoint(); !maps.Equal(got, map[string]int{"a": 3, "b": 1}) {
		t.Fatalf("active %v, want a 3 (1 sending, 2 waiting for its cap), b 1", got)
	}
	l.end("a/1")
	wantSending(t, l, "a/2", "b/1")
	if got := l.d.activeByEndpoint(); !maps.Equal(got, map[string]int{"a": 2, "b": 1}) {
		t.Fatalf("active %v with a/1 over, not settled, want a 2, b 1", got)
	}
	l.settle(t, "a/1")
	if got := l.d.activeByEndpoint(); !maps.Equal(got, map[string]int{"a": 2, "b": 1}) {
		t.Fatalf("active %v after a/1 settled, want it unchanged", got)
	}
	l.end("b/1")
	// Stopping hands back a/3, never sent.
	go l.d.stop(time.Minute, func() {})
	until(t, "a/3 to be handed back", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return slices.Contains(l.released, "a/3") })
	l.end("a/2")
	until(t, "nothing to be active", func() bool { return len(l.d.activeByEndpoint()) == 0 })
}

func TestDispatcher_RateLimitNeverHoldsAWorker(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	// r allows one attempt a second (the claim gave r/2 and r/3 their
	// turns 1s and 2s from now); f has no limit. One worker only.
	turns := map[string]time.Time{"r/2": tp0.Add(time.Second), "r/3": tp0.Add(2 * time.Second)}
	l := newLab(t, fake, 1, 10, 100, turns)
	l.push("r/1", "r/2", "r/3", "f/1")
	wantSending(t, l, "r/1")
	l.end("r/1")
	// r/2 and r/3 must wait for their turns (1s and 2s from now): they are
	// set aside and the one worker sends f/1 meanwhile.
	wantSending(t, l, "f/1")
	l.end("f/1")
	until(t, "the worker to be free", l.idle)
	l.d.mu.Lock()
	deferred := len(l.d.deferred)
	l.d.mu.Unlock()
	if deferred != 2 {
		t.Fatalf("%d deliveries set aside for their turn, want r/2 and r/3", deferred)
	}
	fake.Advance(time.Second)
	wantSending(t, l, "r/2")
	l.end("r/2")
	until(t, "r/2 to be over", l.idle)
	fake.Advance(time.Second)
	wantSending(t, l, "r/3")
	l.end("r/3")
}

func TestDispatcher_StopHandsBackWhatWasNotSent(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	turns := map[string]time.Time{"r/2": tp0.Add(time.Second)}
	l := newLab(t, fake, 2, 1, 100, turns)
	l.push("a/1", "a/2", "r/1", "r/2")
	wantSending(t, l, "a/1", "r/1")
	l.end("r/1")
	wantSending(t, l, "a/1") // a/2 waits for a's cap, r/2 for its turn

	stopped := make(chan bool, 1)
	cutOff := make(chan struct{})
	var once sync.Once
	go func() { stopped <- l.d.stop(time.Minute, func() { once.Do(func() { close(cutOff) }) }) }()
	until(t, "the waiting deliveries to be handed back", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.released) == 2
	})
	l.mu.Lock()
	released := slices.Clone(l.released)
	l.mu.Unlock()
	slices.Sort(released)
	if !slices.Equal(released, []string{"a/2", "r/2"}) {
		t.Fatalf("handed back %v, want the unsent a/2 and r/2", released)
	}
	if n := l.d.free(); n != 0 {
		t.Errorf("free room %d after stop, want 0: a stopped dispatcher takes nothing", n)
	}
	// a/1 is still being sent: stop waits for it through the grace.
	until(t, "stop to set its grace timer", func() bool { return fake.Timers() > 0 })
	select {
	case <-stopped:
		t.Fatal("stop returned while a/1 was being sent, within the grace")
	default:
	}
	l.end("a/1")
	if cut := <-stopped; cut {
		t.Error("stop cut off an attempt that finished within the grace")
	}

	l.push("a/3")
	l.mu.Lock()
	last := l.released[len(l.released)-1]
	l.mu.Unlock()
	if last != "a/3" {
		t.Errorf("a delivery pushed after stop was not handed back (last released %q)", last)
	}
}

func TestDispatcher_StopCutsOffAfterTheGrace(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	l := newLab(t, fake, 1, 1, 10, nil)
	l.push("a/1")
	wantSending(t, l, "a/1")
	stopped := make(chan bool, 1)
	go func() { stopped <- l.d.stop(10*time.Second, func() { l.end("a/1") }) }()
	until(t, "stop to set its grace timer", func() bool { return fake.Timers() > 0 })
	fake.Advance(10 * time.Second)
	if cut := <-stopped; !cut {
		t.Error("stop did not report cutting off the attempt still sent after the grace")
	}
}

// A test send, made outside the workers, takes a place as a worker's:
// within its endpoint's cap and its tenant's share, counted as sending,
// and first when a place frees, before the endpoint's blocked deliveries.
// With none within its wait it is refused as busy, naming the cap.
func TestDispatcher_TestSendsTakeAPlaceFirst(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	l := newLab(t, fake, 4, 1, 100, nil)
	l.push("a/1", "a/2")
	wantSending(t, l, "a/1") // a/2 waits behind a's cap of 1
	a := &store.Endpoint{ID: "a"}
	type admitted struct {
		leave func()
		err   error
	}
	admit := func(wait time.Duration) chan admitted {
		got := make(chan admitted, 1)
		go func() {
			leave, err := l.d.admit(context.Background(), a, "", wait)
			got <- admitted{leave, err}
		}()
		return got
	}
	waiting := func() bool {
		l.d.mu.Lock()
		defer l.d.mu.Unlock()
		return len(l.d.admits) == 1
	}
	counts := func() (sending, atA int) {
		l.d.mu.Lock()
		defer l.d.mu.Unlock()
		return l.d.sending, l.d.perEP["a"]
	}

	first := admit(time.Hour)
	until(t, "the test send to wait for a's place", waiting)
	l.end("a/1")
	var r admitted
	select {
	case r = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("the test send did not get the place a/1 left")
	}
	if r.err != nil {
		t.Fatalf("admit: %v", r.err)
	}
	if s, n := counts(); s != 1 || n != 1 || len(l.sending()) != 0 {
		t.Fatalf("with the test send in: %d sending, %d at a, workers running %v; want 1, 1 and none (a/2 still waits)", s, n, l.sending())
	}
	r.leave()
	wantSending(t, l, "a/2")

	// a/2 holds a's place: a test send waits its wait out, then is busy.
	busy := admit(time.Minute)
	until(t, "the test send's timer", func() bool { return waiting() && fake.Timers() == 1 })
	fake.Advance(time.Minute)
	r = <-busy
	if !errors.Is(r.err, herald.ErrBusy) || !strings.Contains(r.err.Error(), "endpoint a has 1 attempts in flight") {
		t.Fatalf("admit past a's cap: %v, want ErrBusy naming the endpoint's cap", r.err)
	}
	if s, _ := counts(); s != 1 || waiting() {
		t.Fatalf("after the refusal: %d sending, a test still waiting %v; want only a/2", s, waiting())
	}
	l.end("a/2")
	until(t, "every attempt to be over", l.idle)
}

// A tenant's test sends count against its share of the workers.
func TestDispatcher_TestSendsCountInTheTenantsShare(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	l := newLab(t, fake, 4, 4, 100, nil)
	l.d.perTenant = 2
	l.tenantOf = map[string]string{"a": "acme", "b": "acme"}
	leave, err := l.d.admit(context.Background(), &store.Endpoint{ID: "a"}, "acme", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l.push("a/1", "b/1")
	wantSendingPlus(t, l, 1, "a/1") // the test and a/1 fill acme's share: b/1 waits
	leave()
	wantSending(t, l, "a/1", "b/1")
	l.end("a/1")
	l.end("b/1")
	until(t, "every attempt to be over", l.idle)
}

// wantSendingPlus is wantSending with extra attempts counted that no
// worker runs (test sends).
func wantSendingPlus(t *testing.T, l *lab, extra int, want ...string) {
	t.Helper()
	slices.Sort(want)
	until(t, fmt.Sprintf("%v to be sending", want), func() bool { return slices.Equal(l.sending(), want) })
	l.d.mu.Lock()
	n := l.d.sending
	l.d.mu.Unlock()
	if n != len(want)+extra {
		t.Fatalf("dispatcher counts %d sending, want %d (%v and %d test sends)", n, len(want)+extra, want, extra)
	}
}
