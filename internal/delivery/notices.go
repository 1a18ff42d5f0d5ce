package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// Failure notices: when a delivery of an event the application posted
// fails for good, the tenant's endpoints that subscribe to the format's
// failure event type hear of it. Sent one by one, 60 endpoints failing for
// good under one tenant made one event into 60 x 60 notices. So notices are
// coalesced: a tenant's failures of one failure type are gathered, and go
// out as one failure event that counts them, at most once per window;
// the window grows while failures keep coming and starts again after a
// quiet one. That event goes only to endpoints that are not failing
// themselves (store.Failing), and a failure event (or a test) that fails
// raises nothing. Each notice goes to the operator's endpoints too
// (withOperator). The gathering runs on a goroutine of its own, so a burst
// of failures never holds up the completer that records attempts.

const (
	// DefaultNoticeWindow is the first window of a tenant's failure
	// notices: after one went out, the next waits at least this long.
	DefaultNoticeWindow = time.Minute
	// DefaultNoticeWindowMax is the longest the window grows to while
	// failures keep coming.
	DefaultNoticeWindowMax = time.Hour
	// noticeGather is how long the first failure after a quiet window
	// waits for others before its notice goes out: the failures of one
	// batch of records arrive together.
	noticeGather = time.Second
	// noticeFailuresKept is how many failures a notice lists in detail;
	// its count says how many there were in all.
	noticeFailuresKept = 10
	// noticeRetry is how long notices whose event could not be stored
	// wait before they are tried again.
	noticeRetry = 5 * time.Second
	// noticeBatch caps the failure events stored in one transaction.
	noticeBatch = 64
)

// failure is one delivery that failed for good, as a notice describes it,
// in the order docs/formats.md gives.
type failure struct {
	DeliveryID   string `json:"delivery_id"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	EndpointID   string `json:"endpoint_id"`
	Attempts     int    `json:"attempts"`
	ResponseCode int    `json:"response_code"`
	Error        string `json:"error"`
}

// noticeData is a failure event's data: the first failure it stands for,
// as a notice of one failure has always been, how many it stands for, and
// the first of them in detail.
type noticeData struct {
	failure
	Count    int       `json:"count"`
	Failures []failure `json:"failures"`
}

// noticeKey is what notices are coalesced by: a tenant and a failure
// event type (the failed delivery's format's).
type noticeKey struct{ tenant, typ string }

// notice is the failures of one key waiting to go out.
type notice struct {
	traceID  string // the first failure's event's: the notice is in its trace
	count    int
	failures []failure // the first noticeFailuresKept
	// held: it came within the window of the notice before, so that
	// window was busy and the next one doubles.
	held bool
}

func (n *notice) add(f failure) {
	n.count++
	if len(n.failures) < noticeFailuresKept {
		n.failures = append(n.failures, f)
	}
}

// merge puts o, which was waiting longer, in front of n.
func (n *notice) merge(o *notice) {
	n.traceID = o.traceID
	n.count += o.count
	n.failures = append(slices.Clip(o.failures), n.failures...)[:min(noticeFailuresKept, len(o.failures)+len(n.failures))]
	n.held = n.held || o.held
}

// noticeState is one key's: what waits, when it goes out, and the window.
type noticeState struct {
	pending *notice
	due     time.Time
	last    time.Time     // when its last notice went out; zero: none yet
	window  time.Duration // the least time between two of its notices
}

// notices gathers failures and raises their notices. Its memory is
// bounded by the keys, not the failures: each key holds at most
// noticeFailuresKept of them and a count.
type notices struct {
	st        store.Store
	clock     clock.Clock
	log       *slog.Logger
	window    time.Duration
	windowMax time.Duration

	mu   sync.Mutex
	keys map[noticeKey]*noticeState
	wake chan struct{} // cap 1: a key has a new, maybe earlier, due time
}

func newNotices(st store.Store, c clock.Clock, log *slog.Logger, window, windowMax time.Duration) *notices {
	window = cmp.Or(window, DefaultNoticeWindow)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &notices{
		st: st, clock: c, log: log, window: window, windowMax: max(window, cmp.Or(windowMax, DefaultNoticeWindowMax)),
		keys: map[noticeKey]*noticeState{}, wake: make(chan struct{}, 1),
	}
}

// add notes that a delivery of a tenant's event failed for good; typ is
// the failure event type its notice has, traceID its event's trace. It
// never blocks on the database.
func (n *notices) add(tenant, typ, traceID string, f failure) {
	now := n.clock.Now()
	n.mu.Lock()
	k := noticeKey{tenant, typ}
	s := n.keys[k]
	if s == nil {
		s = &noticeState{window: n.window}
		n.keys[k] = s
	}
	if s.pending == nil {
		s.pending = &notice{traceID: traceID}
		if s.last.IsZero() || now.Sub(s.last) >= s.window {
			// A quiet window: start again from the first.
			s.window, s.due = n.window, now.Add(noticeGather)
		} else {
			s.pending.held, s.due = true, s.last.Add(s.window)
		}
	}
	s.pending.add(f)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// dueNotice is a notice on its way out.
type dueNotice struct {
	key noticeKey
	n   *notice
}

// takeDue takes the notices due at now (all of them when all is set) and
// returns them with the next due time, zero when none waits. Keys that
// are quiet for a whole window are dropped: a new one behaves the same.
func (n *notices) takeDue(now time.Time, all bool) (out []dueNotice, next time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, s := range n.keys {
		switch {
		case s.pending != nil && (all || !s.due.After(now)):
			out = append(out, dueNotice{k, s.pending})
			if s.pending.held {
				s.window = min(2*s.window, n.windowMax)
			}
			s.pending, s.last = nil, now
		case s.pending != nil:
			if next.IsZero() || s.due.Before(next) {
				next = s.due
			}
		case now.Sub(s.last) >= s.window:
			delete(n.keys, k)
		}
	}
	return out, next
}

// putBack returns notices whose events could not be stored, to go out
// again at retry at the earliest, in front of what came since.
func (n *notices) putBack(ds []dueNotice, retry time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range ds {
		s := n.keys[d.key]
		if s == nil {
			s = &noticeState{window: n.window}
			n.keys[d.key] = s
		}
		if s.pending == nil {
			s.pending = &notice{}
		}
		s.pending.merge(d.n)
		s.due = retry
	}
}

// run raises notices as they come due until ctx ends, then raises every
// notice still waiting and returns.
func (n *notices) run(ctx context.Context) {
	for {
		now := n.clock.Now()
		due, next := n.takeDue(now, false)
		if len(due) > 0 {
			if failed := n.raise(context.WithoutCancel(ctx), due, now); len(failed) > 0 {
				n.putBack(failed, now.Add(noticeRetry))
				continue
			}
		}
		var fire <-chan time.Time
		var timer clock.Timer
		if !next.IsZero() {
			timer = n.clock.NewTimer(next.Sub(now))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-n.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			// Shutdown: whatever waits goes now, windows or not.
			all, _ := n.takeDue(n.clock.Now(), true)
			if failed := n.raise(context.WithoutCancel(ctx), all, n.clock.Now()); len(failed) > 0 {
				n.log.Error("failure notices not raised at shutdown", "notices", len(failed))
			}
			return
		}
	}
}

// raise stores the notices' failure events, noticeBatch to a transaction,
// and returns those of the transactions that failed (the database did not
// answer), which may be tried again. A notice refused alone (its tenant
// was deleted) is dropped; the operator's event of it is stored all the
// same.
func (n *notices) raise(ctx context.Context, ds []dueNotice, now time.Time) (failed []dueNotice) {
	// Oldest key first is not needed; a stable order keeps runs alike.
	slices.SortFunc(ds, func(a, b dueNotice) int {
		return cmp.Or(cmp.Compare(a.key.tenant, b.key.tenant), cmp.Compare(a.key.typ, b.key.typ))
	})
	for chunk := range slices.Chunk(ds, noticeBatch) {
		ps := make([]*store.EventCreateParams, 0, len(chunk))
		for _, d := range chunk {
			ps = append(ps, d.params(now))
		}
		// The operator hears of each in the same transaction.
		ps = withOperator(ps, format.DefaultFailureEventType)
		out, _, err := n.st.EventCreateMany(ctx, ps, nil)
		if err != nil {
			n.log.Error("raise failure notices", "err", err, "notices", len(chunk))
			failed = append(failed, chunk...)
			continue
		}
		for i, o := range out {
			if o.Err != nil {
				n.log.Warn("raise failure notice", "err", o.Err, "tenant", ps[i].Event.TenantID)
			}
		}
	}
	return failed
}

// params is the failure event of a notice, for the endpoints of its
// tenant that subscribe to its type and are not failing.
func (d dueNotice) params(now time.Time) *store.EventCreateParams {
	raw, err := json.Marshal(noticeData{failure: d.n.failures[0], Count: d.n.count, Failures: d.n.failures})
	if err != nil {
		panic("delivery: marshal a failure notice: " + err.Error()) // strings and numbers only
	}
	ev := &store.Event{
		TenantID: d.key.tenant, ID: id.NewAt(id.Event, now), Type: d.key.typ,
		Data: canonical(raw), TraceID: d.n.traceID, Source: store.SourceFailure, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	return &store.EventCreateParams{Event: ev, Now: now, SkipFailing: true}
}
