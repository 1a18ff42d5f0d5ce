package event

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Group commit bounds: how many events, and how many bytes of their data,
// one transaction takes at most.
const (
	defaultBatchEvents = 256
	defaultBatchBytes  = 4 << 20
	// commitTimeout bounds a batch's transaction once it runs on behalf of
	// every request in it, none of whose cancellations may cut it short.
	commitTimeout = 30 * time.Second
)

// committer is group commit for ingest: concurrent requests are written
// together, each answered only after the transaction holding its event
// commits. There is no fixed delay: the first request to find no commit
// running commits at once, alone; requests that arrive while a commit runs
// queue, and the first of them then commits all that queued (up to the
// bounds) in the next transaction. So a lone request is never slowed, and
// under load the database does one commit, one fsync, per batch instead of
// per event. No goroutine of its own: a request that must commit does it.
type committer struct {
	st        store.Store
	maxEvents int
	maxBytes  int
	// dispatcher, when set, takes new deliveries straight from the batch
	// that made them (a hand-off), leased to it, without a claim.
	dispatcher Dispatcher

	mu      sync.Mutex
	queue   []*waiter
	running bool // a request is committing; the queue waits for it
}

// waiter is one request's event in the queue.
type waiter struct {
	p    *store.EventCreateParams
	out  store.EventCreateOutcome
	turn chan bool // true: commit the next batch; false: out is the answer
}

func newCommitter(st store.Store, maxEvents, maxBytes int, d Dispatcher) *committer {
	return &committer{st: st, maxEvents: cmp.Or(maxEvents, defaultBatchEvents), maxBytes: cmp.Or(maxBytes, defaultBatchBytes), dispatcher: d}
}

// Dispatcher takes deliveries straight from ingest: the delivery engine of
// this node (delivery.Engine).
type Dispatcher interface {
	// HandOffRoom is how many new deliveries it can take now, and whose
	// lease they get until when; a zero Limit takes none.
	HandOffRoom() store.HandOff
	// HandOff takes the deliveries a committed batch leased to it; held
	// says the batch left others pending that only its own attempts' end
	// makes room for (store.HandOff.Held), which it claims then.
	HandOff(cs []*store.Claimed, held bool)
}

// create stores p in the next batch and returns its own outcome once that
// batch has committed.
func (c *committer) create(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	w := &waiter{p: p, turn: make(chan bool, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	// A request that queued waits for its answer whatever its context
	// says: its event may be in a batch being committed, and the turn to
	// commit may be handed to it.
	if lead || <-w.turn {
		c.commitNext(ctx)
	}
	return w.out.Result, w.out.Err
}

// commitNext commits the batch at the head of the queue, which holds the
// caller's own event, answers it, and hands the turn to the first request
// still queued, if any.
func (c *committer) commitNext(ctx context.Context) {
	c.mu.Lock()
	n, size := 0, 0
	for n < len(c.queue) && n < c.maxEvents {
		if size += len(c.queue[n].p.Event.Data); n > 0 && size > c.maxBytes {
			break
		}
		n++
	}
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	// Answered and the turn passed on however write ends: a panic that
	// left the turn with nobody would hang every ingest after it.
	defer c.passTurn(batch)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	c.write(ctx, batch)
}

// passTurn answers the rest of a committed batch and hands the turn to the
// first request still queued, or ends the run when none is.
func (c *committer) passTurn(batch []*waiter) {
	c.mu.Lock()
	var next *waiter
	if len(c.queue) > 0 {
		next = c.queue[0]
	} else {
		c.running = false
	}
	c.mu.Unlock()
	for _, w := range batch[1:] {
		w.turn <- false
	}
	if next != nil {
		next.turn <- true
	}
}

// write stores a batch and sets each waiter's outcome. When the batch's
// transaction fails for a reason other than the database being away, its
// events are written one by one, so an event no transaction can take
// fails alone instead of taking its neighbours with it.
func (c *committer) write(ctx context.Context, batch []*waiter) {
	ps := make([]*store.EventCreateParams, len(batch))
	for i, w := range batch {
		ps[i] = w.p
	}
	var h *store.HandOff
	if c.dispatcher != nil {
		if room := c.dispatcher.HandOffRoom(); room.Limit > 0 {
			h = &room
		}
	}
	outs, handed, err := c.st.EventCreateMany(ctx, ps, h)
	if err == nil {
		// Committed: the leases are ours. Should this node die before the
		// dispatcher sends them, they are claimed again when they run out.
		if len(handed) > 0 || (h != nil && h.Held > 0) {
			c.dispatcher.HandOff(handed, h != nil && h.Held > 0)
		}
		for i, w := range batch {
			w.out = outs[i]
		}
		return
	}
	if len(batch) == 1 || errors.Is(err, herald.ErrUnavailable) {
		for _, w := range batch {
			w.out.Err = err
		}
		return
	}
	for _, w := range batch {
		w.out.Result, w.out.Err = c.st.EventCreate(ctx, w.p)
	}
}

// groupCommit is several committers side by side, each request going to
// the next in turn: as many batches commit at once as there are, each
// filling while the others commit. One is group commit as committer
// describes it, and what both databases run (store.Writers); more
// overlap one batch's commit wait with the next batch's statements, which
// on PostgreSQL lost more to the hand-offs' turns at the claims' lock than
// the overlap gained (docs/design.md, "Group commit on ingest").
type groupCommit struct {
	shards []*committer
	next   atomic.Uint32
}

func newGroupCommit(st store.Store, writers, maxEvents, maxBytes int, d Dispatcher) *groupCommit {
	g := &groupCommit{shards: make([]*committer, max(writers, 1))}
	for i := range g.shards {
		g.shards[i] = newCommitter(st, maxEvents, maxBytes, d)
	}
	return g
}

// create stores p in the next batch of a committer: the first idle one
// from the next in turn, so a request that comes while another commits
// starts its own commit at once instead of queueing behind it; with none
// idle, the next in turn, whose batch it joins.
func (g *groupCommit) create(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	if len(g.shards) == 1 {
		return g.shards[0].create(ctx, p)
	}
	start := int(g.next.Add(1))
	for i := range g.shards {
		if c := g.shards[(start+i)%len(g.shards)]; c.idle() {
			return c.create(ctx, p)
		}
	}
	return g.shards[start%len(g.shards)].create(ctx, p)
}

// idle reports whether no commit is running: a request now would commit
// at once.
func (c *committer) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.running
}
