package delivery

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// dispatcher runs claimed deliveries on a bounded pool of workers. It holds
// every delivery from its claim until it is settled (recorded or handed
// back), so the fetcher claims only what it has room for; it keeps each
// endpoint to its in-flight cap and each tenant to its share of the
// workers, and gives free workers to the tenants with work in turn (one
// delivery each, round and round), so one tenant's backlog, hanging
// receivers or rate limits never leave another tenant waiting for a
// worker; and it spaces an endpoint's attempts by its rate limit without
// holding a worker while one waits: a delivery whose turn has not come is
// set aside in memory, still leased, until it has. Test sends, made on
// their callers' goroutines, take places among its workers' (admit).
type dispatcher struct {
	// ctx is what attempts run on: it outlives Run's own context, so a
	// shutdown can let them finish, and ends when they are cut off.
	ctx         context.Context
	clock       clock.Clock
	workers     int // attempts sent at once
	perEndpoint int // attempts sent at once to one endpoint, unless its own max_in_flight is lower
	perTenant   int // attempts sent at once for one tenant (0: no share)
	capacity    int // deliveries held at once: waiting, sending, or awaiting their record
	// run makes the attempt and says how it ended; settled is called,
	// maybe later and from another goroutine, once the delivery has left
	// this node's hands.
	run func(ctx context.Context, c *store.Claimed, settled func()) ended
	// release hands back a delivery that was never attempted (shutdown).
	release func(ctx context.Context, c *store.Claimed)
	// sent is told how many attempts are being sent, after every dispatch
	// (a worker that finished included, which is how the completer learns
	// that nothing is being sent).
	sent func(n int)

	mu       sync.Mutex
	held     int
	sending  int
	settling map[string]struct{}  // deliveries whose attempt ended, awaiting their record
	active   map[string]int       // deliveries held whose attempt has not ended, by endpoint
	perEP    map[string]int       // attempts being sent, by endpoint
	perTN    map[string]int       // attempts being sent, by tenant
	queued   map[string][]*job    // waiting for a worker, by tenant, in claim order
	turn     []string             // tenants with queued jobs and room in their share, in turn
	inTurn   map[string]bool      // the tenants in turn
	blocked  map[string][]*job    // waiting for their endpoint's cap
	quick    map[string]time.Time // endpoints whose last attempt delivered within eagerWithin, and when it ended
	failing  map[string]*streak   // endpoints whose last attempts failed
	deferred jobsByTurn           // waiting for their rate limit turn
	admits   []*admission         // test sends waiting for a place, in arrival order
	stopped  bool
	wg       sync.WaitGroup // workers

	rearm chan struct{} // cap 1: the earliest turn changed
	freed chan struct{} // cap 1: room was made for more deliveries
}

// ended is how an attempt ended, as run reports it.
type ended int

const (
	untried   ended = iota // handed back unsent (shutdown, the database away)
	delivered              // the receiver took it
	failed                 // the attempt failed
)

// streak is an endpoint's failed attempts in a row on this node.
type streak struct {
	n    int
	last time.Time // when the last of them ended
}

// probeEvery is how long an endpoint whose last store.OneAtATimeAfter
// attempts from this node failed waits after the last of them for its
// next: its claims hold it to one attempt at a time, and this spaces
// them, so a receiver that is down costs a second's attempt, not a
// worker's every few milliseconds and a claim for each.
const probeEvery = time.Second

// forgetFailing is how long after its last failed attempt an endpoint's
// streak is kept without another attempt.
const forgetFailing = time.Minute

// job is a delivery the dispatcher holds.
type job struct {
	c        *store.Claimed
	started  time.Time // when its attempt began
	turn     time.Time // when a deferred job's rate limit turn comes
	reserved bool      // its turn is taken: it runs without asking again
	settled  bool      // it has left this node's hands
	active   bool      // counted in dispatcher.active: its attempt has not ended
}

func newDispatcher(d *dispatcher) *dispatcher {
	d.perEP = map[string]int{}
	d.perTN = map[string]int{}
	d.queued = map[string][]*job{}
	d.inTurn = map[string]bool{}
	d.blocked = map[string][]*job{}
	d.quick = map[string]time.Time{}
	d.failing = map[string]*streak{}
	d.settling = map[string]struct{}{}
	d.active = map[string]int{}
	d.perTenant = store.TenantCap(d.perTenant)
	d.rearm = make(chan struct{}, 1)
	d.freed = make(chan struct{}, 1)
	if d.sent == nil {
		d.sent = func(int) {}
	}
	return d
}

// free is how many more deliveries the dispatcher can take.
func (d *dispatcher) free() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return 0
	}
	return max(0, d.capacity-d.held)
}

// queuedCount is how many deliveries wait for a worker (not for their
// endpoint's cap or their rate limit turn).
func (d *dispatcher) queuedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.queued {
		n += len(q)
	}
	return n
}

// settlingIDs names the deliveries whose attempt has ended and whose
// record has not been written yet: leased still, but no longer in flight
// to their endpoint (store.DeliveryClaimParams.Settling).
func (d *dispatcher) settlingIDs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.settling))
	for id := range d.settling {
		ids = append(ids, id)
	}
	return ids
}

// eagerWithin is how quickly an endpoint's attempt must have been
// delivered, and how recently, for the endpoint to be eager: a node leases
// more of an eager endpoint's deliveries than its cap (OwnLeaseFactor),
// which wait in the dispatcher for its attempts to end. An endpoint whose
// attempts hang, fail or have not been tried yet gets its cap alone, so
// waiting leases never pile up where they would wait for seconds while its
// tenant's other endpoints want its share.
const eagerWithin = time.Second

// eagerIDs names the eager endpoints (store.DeliveryClaimParams.Eager):
// those whose last attempt from this node was delivered in less than
// eagerWithin, and ended less than eagerWithin ago.
func (d *dispatcher) eagerIDs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	ids := make([]string, 0, len(d.quick))
	for ep, at := range d.quick {
		if now.Sub(at) >= eagerWithin {
			delete(d.quick, ep)
			continue
		}
		ids = append(ids, ep)
	}
	for ep, s := range d.failing {
		if now.Sub(s.last) >= forgetFailing {
			delete(d.failing, ep)
		}
	}
	return ids
}

// busy reports whether attempts are being sent: more outcomes are coming.
func (d *dispatcher) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sending > 0
}

// push takes claimed deliveries; after stop it hands them back at once.
func (d *dispatcher) push(cs []*store.Claimed) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		for _, c := range cs {
			d.release(d.ctx, c)
		}
		return
	}
	d.held += len(cs)
	for _, c := range cs {
		d.active[c.Endpoint.ID]++
		d.queueLocked(&job{c: c, active: true}, false)
	}
	d.dispatchLocked()
	d.mu.Unlock()
}

// queueLocked queues j for a worker behind its tenant's other jobs, or
// ahead of them (a job whose endpoint or rate limit turn has come).
func (d *dispatcher) queueLocked(j *job, first bool) {
	t := j.c.Delivery.TenantID
	if first {
		d.queued[t] = slices.Insert(d.queued[t], 0, j)
	} else {
		d.queued[t] = append(d.queued[t], j)
	}
	d.offerTurnLocked(t)
}

// offerTurnLocked puts tenant t at the back of the turn if it has queued
// jobs and room in its share and is not there already.
func (d *dispatcher) offerTurnLocked(t string) {
	if !d.inTurn[t] && len(d.queued[t]) > 0 && d.perTN[t] < d.perTenant {
		d.turn = append(d.turn, t)
		d.inTurn[t] = true
	}
}

// dispatchLocked starts every job that may run now while a worker is free:
// the first queued job of the tenant whose turn it is, then that tenant
// goes to the back of the turn.
func (d *dispatcher) dispatchLocked() {
	for d.sending < d.workers && len(d.turn) > 0 && !d.stopped {
		t := d.turn[0]
		d.turn[0] = ""
		d.turn = d.turn[1:]
		delete(d.inTurn, t)
		q := d.queued[t]
		if len(q) == 0 || d.perTN[t] >= d.perTenant {
			continue
		}
		j := q[0]
		q[0] = nil
		if len(q) == 1 {
			delete(d.queued, t)
		} else {
			d.queued[t] = q[1:]
		}
		d.placeLocked(j)
		d.offerTurnLocked(t)
	}
	d.sent(d.sending)
}

// placeLocked starts j on a worker, or sets it aside: for its endpoint's
// cap, or until its rate limit turn.
func (d *dispatcher) placeLocked(j *job) {
	ep := j.c.Endpoint
	if d.perEP[ep.ID] >= ep.InFlightCap(d.perEndpoint) {
		d.blocked[ep.ID] = append(d.blocked[ep.ID], j)
		return
	}
	now := d.clock.Now()
	// An endpoint failing on this node gets its next attempt probeEvery
	// after its last.
	if s := d.failing[ep.ID]; s != nil && s.n >= store.OneAtATimeAfter && now.Before(s.last.Add(probeEvery)) {
		d.deferLocked(j, s.last.Add(probeEvery))
		return
	}
	// Its rate limit turn, given out by the claim across every node: a
	// delivery whose turn has not come is set aside until it has.
	if !j.reserved && j.c.NotBefore.After(now) {
		j.reserved = true
		d.deferLocked(j, j.c.NotBefore)
		return
	}
	d.takeLocked(ep.ID, j.c.Delivery.TenantID)
	j.started = now
	d.wg.Add(1)
	go d.work(j)
}

// deferLocked sets j aside until at, when it is placed again.
func (d *dispatcher) deferLocked(j *job, at time.Time) {
	j.turn = at
	first := len(d.deferred) == 0 || j.turn.Before(d.deferred[0].turn)
	heap.Push(&d.deferred, j)
	if first {
		select {
		case d.rearm <- struct{}{}:
		default:
		}
	}
}

func (d *dispatcher) work(j *job) {
	defer d.wg.Done()
	how := d.run(d.ctx, j.c, func() { d.settle(j) })
	d.mu.Lock()
	d.endLocked(j)
	if !j.settled {
		d.settling[j.c.Delivery.ID] = struct{}{}
	}
	ep, now := j.c.Endpoint.ID, d.clock.Now()
	if how == delivered && now.Sub(j.started) < eagerWithin {
		d.quick[ep] = now
	} else {
		delete(d.quick, ep)
	}
	switch how {
	case delivered:
		delete(d.failing, ep)
	case failed:
		s := d.failing[ep]
		if s == nil {
			s = &streak{}
			d.failing[ep] = s
		}
		s.n++
		s.last = now
	}
	d.leaveLocked(j.c.Endpoint.ID, j.c.Delivery.TenantID)
	d.mu.Unlock()
}

// takeLocked counts an attempt to endpoint ep of tenant t as sent.
func (d *dispatcher) takeLocked(ep, t string) {
	d.sending++
	d.perEP[ep]++
	d.perTN[t]++
}

// leaveLocked counts an attempt to endpoint id of tenant t as over, and
// gives its place to what waits for one: a test send first, then the
// endpoint's first blocked job (first in its tenant's queue), then the
// tenant's turn, which has room in its share again.
func (d *dispatcher) leaveLocked(id, t string) {
	d.sending--
	if d.perEP[id]--; d.perEP[id] == 0 {
		delete(d.perEP, id)
	}
	if d.perTN[t]--; d.perTN[t] == 0 {
		delete(d.perTN, t)
	}
	d.admitLocked()
	if b := d.blocked[id]; len(b) > 0 && d.perEP[id] < b[0].c.Endpoint.InFlightCap(d.perEndpoint) {
		d.queueLocked(b[0], true)
		if len(b) == 1 {
			delete(d.blocked, id)
		} else {
			d.blocked[id] = b[1:]
		}
	}
	d.offerTurnLocked(t)
	d.dispatchLocked()
}

// admission is a test send waiting for a place.
type admission struct {
	ep       *store.Endpoint
	tenant   string
	ready    chan struct{} // closed when it has its place, or is refused
	admitted bool
}

// errStopped is admit's answer once the dispatcher has stopped.
var errStopped = errors.New("the delivery engine is stopping")

// fitsLocked is "" when an attempt to ep for tenant t has a place now,
// or the cap that leaves it none.
func (d *dispatcher) fitsLocked(ep *store.Endpoint, t string) string {
	switch cap := ep.InFlightCap(d.perEndpoint); {
	case d.perEP[ep.ID] >= cap:
		return fmt.Sprintf("endpoint %s has %d attempts in flight, its cap (max_in_flight, or --per-endpoint)", ep.ID, cap)
	case d.perTN[t] >= d.perTenant:
		return fmt.Sprintf("tenant %s has %d attempts in flight on this node, its share (--per-tenant)", t, d.perTenant)
	case d.sending >= d.workers:
		return fmt.Sprintf("all %d workers of this node are sending (--workers)", d.workers)
	}
	return ""
}

// admitLocked gives places to the waiting test sends that fit, in order.
func (d *dispatcher) admitLocked() {
	kept := d.admits[:0]
	for _, a := range d.admits {
		if d.fitsLocked(a.ep, a.tenant) != "" {
			kept = append(kept, a)
			continue
		}
		d.takeLocked(a.ep.ID, a.tenant)
		a.admitted = true
		close(a.ready)
	}
	clear(d.admits[len(kept):])
	d.admits = kept
}

// admit takes a place for an attempt the dispatcher does not run itself (a
// test send, made on its caller's goroutine) to ep for tenant t, counted
// as a worker's: within the workers, the endpoint's cap and the tenant's
// share, and ahead of every claimed delivery waiting for one. It waits for
// a place up to wait, or until ctx ends; with none by then the error is a
// herald.ErrBusy naming the cap. leave gives the place back; call it once.
func (d *dispatcher) admit(ctx context.Context, ep *store.Endpoint, t string, wait time.Duration) (leave func(), err error) {
	leave = func() {
		d.mu.Lock()
		d.leaveLocked(ep.ID, t)
		d.mu.Unlock()
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil, errStopped
	}
	if d.fitsLocked(ep, t) == "" {
		d.takeLocked(ep.ID, t)
		d.sent(d.sending)
		d.mu.Unlock()
		return leave, nil
	}
	a := &admission{ep: ep, tenant: t, ready: make(chan struct{})}
	d.admits = append(d.admits, a)
	d.mu.Unlock()

	timer := d.clock.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-a.ready:
	case <-ctx.Done():
	case <-timer.C():
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := slices.Index(d.admits, a); i >= 0 {
		d.admits = slices.Delete(d.admits, i, i+1)
	}
	switch {
	case a.admitted && ctx.Err() != nil:
		d.leaveLocked(ep.ID, t)
		return nil, ctx.Err()
	case a.admitted:
		d.sent(d.sending)
		return leave, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case d.stopped:
		return nil, errStopped
	}
	return nil, herald.Errorf(herald.ErrBusy, "%s: no room for a test send within %s; try again in a moment", d.fitsLocked(ep, t), wait)
}

// endLocked stops counting j as active: its attempt ended, or it left
// this node's hands without one.
func (d *dispatcher) endLocked(j *job) {
	if !j.active {
		return
	}
	j.active = false
	if id := j.c.Endpoint.ID; d.active[id] <= 1 {
		delete(d.active, id)
	} else {
		d.active[id]--
	}
}

// activeByEndpoint counts, by endpoint, the deliveries held whose attempt
// has not ended (store.HandOff.Active): waiting for a worker, their cap
// or their turn, or being sent.
func (d *dispatcher) activeByEndpoint() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.active)
}

// settle frees j's place once it has left this node's hands.
func (d *dispatcher) settle(j *job) {
	d.mu.Lock()
	d.held--
	d.endLocked(j)
	j.settled = true
	delete(d.settling, j.c.Delivery.ID)
	d.mu.Unlock()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// turns moves deferred jobs to the front of the queue as their rate limit
// turns (or an endpoint's next probe) come, until ctx ends.
func (d *dispatcher) turns(ctx context.Context) {
	for {
		d.mu.Lock()
		var wait time.Duration = -1
		now := d.clock.Now()
		var due []*job
		for len(d.deferred) > 0 && !d.deferred[0].turn.After(now) {
			due = append(due, heap.Pop(&d.deferred).(*job))
		}
		if len(due) > 0 {
			// Each first in its tenant's queue, in the order their turns came.
			for _, j := range slices.Backward(due) {
				d.queueLocked(j, true)
			}
			d.dispatchLocked()
		}
		if len(d.deferred) > 0 {
			wait = d.deferred[0].turn.Sub(now)
		}
		d.mu.Unlock()

		var timer clock.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = d.clock.NewTimer(wait)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-d.rearm:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// stop takes no more work, hands back every delivery not yet attempted,
// and waits for the attempts being sent: for up to grace, then it calls
// cutOff, which ends their context, and waits for them to return. It
// reports whether it had to cut them off.
func (d *dispatcher) stop(grace time.Duration, cutOff func()) (cut bool) {
	d.mu.Lock()
	d.stopped = true
	var waiting []*job
	for _, q := range d.queued {
		waiting = append(waiting, q...)
	}
	for _, b := range d.blocked {
		waiting = append(waiting, b...)
	}
	waiting = append(waiting, d.deferred...)
	d.queued, d.turn, d.inTurn = map[string][]*job{}, nil, map[string]bool{}
	d.blocked, d.deferred = map[string][]*job{}, nil
	for _, a := range d.admits {
		close(a.ready) // refused: not admitted
	}
	d.admits = nil
	d.mu.Unlock()
	for _, j := range waiting {
		d.release(d.ctx, j.c)
		d.settle(j)
	}

	finished := make(chan struct{})
	go func() { d.wg.Wait(); close(finished) }()
	timer := d.clock.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-finished:
		return false
	case <-timer.C():
		cutOff()
		<-finished
		return true
	}
}

// jobsByTurn is a heap of deferred jobs, earliest turn first.
type jobsByTurn []*job

func (h jobsByTurn) Len() int           { return len(h) }
func (h jobsByTurn) Less(i, j int) bool { return h[i].turn.Before(h[j].turn) }
func (h jobsByTurn) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *jobsByTurn) Push(x any)        { *h = append(*h, x.(*job)) }
func (h *jobsByTurn) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}
