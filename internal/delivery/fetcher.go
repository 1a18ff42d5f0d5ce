package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// fetcher claims due deliveries for the dispatcher: as many as it has room
// for (its workers and a prefetch beyond them, so a worker that finishes
// finds the next delivery already claimed), again at once while claims come
// back full, and otherwise when woken: by a notification of new due work
// from any node, by room freed in the dispatcher, by the next retry coming
// due, or by the poll interval as a fallback. While the dispatcher has
// batch deliveries or more waiting for a worker, it claims only once batch
// places are free: a claim costs about the same for one row as for a
// hundred, and on PostgreSQL claims take turns with each other and with
// ingest's hand-offs, so a claim per settled delivery made the claims the
// bottleneck (docs/design.md). On PostgreSQL, after a claim that found
// nothing, the next probes for room before it takes that turn
// (store.DeliveryClaimParams.Probe, store.ClaimProbe).
type fetcher struct {
	st          store.Store
	clock       clock.Clock
	log         *slog.Logger
	owner       string
	lease       time.Duration
	perEndpoint int
	perTenant   int // leases of one tenant, across nodes
	poll        time.Duration

	batch int // the least room worth a claim while workers have work queued
	// gap is the least time from a claim that came back short (all that
	// could be claimed was) to the next: what comes due meanwhile, retries
	// trickling in, goes in one claim instead of one each, and the claims
	// leave the claim's turn to ingest's hand-offs, which wait for it on
	// PostgreSQL, most of the time (docs/design.md).
	gap time.Duration
	// probes: a claim after one that found nothing probes for room first
	// (store.DeliveryClaimParams.Probe, store.ClaimProbe).
	probes bool

	wake <-chan struct{} // store.Listen's
	free func() int      // room in the dispatcher
	// settling names the deliveries whose attempts ended and wait for
	// their record (store.DeliveryClaimParams.Settling); nil: none.
	settling func() []string
	// eager names the endpoints the claim leases past their cap
	// (store.DeliveryClaimParams.Eager); nil: none.
	eager   func() []string
	queued  func() int                // deliveries waiting for a worker; nil: none
	freed   <-chan struct{}           // room was made
	push    func(cs []*store.Claimed) // to the dispatcher
	soonMu  sync.Mutex
	soonest time.Time     // the earliest due time told by dueAt, not yet taken
	soon    chan struct{} // cap 1: dueAt was called
}

// dueAt tells the fetcher that a delivery comes due at t: one of this
// node's attempts was recorded for a retry, or a delivery handed back. It
// is how the fetcher learns of them without reading the next due time
// again every time room is made. Call it once the row is committed. With
// quiet it does not wake the fetcher: the delivery waits for room only
// this node's attempts make, and the fetcher takes it when one ends.
func (f *fetcher) dueAt(t time.Time, quiet bool) {
	f.soonMu.Lock()
	if f.soonest.IsZero() || t.Before(f.soonest) {
		f.soonest = t
	}
	f.soonMu.Unlock()
	if quiet {
		return
	}
	select {
	case f.soon <- struct{}{}:
	default:
	}
}

// takeSoonest is what dueAt was told since the last call, zero if nothing.
func (f *fetcher) takeSoonest() time.Time {
	f.soonMu.Lock()
	defer f.soonMu.Unlock()
	t := f.soonest
	f.soonest = time.Time{}
	return t
}

// hungry reports whether a claim of n is worth making now: n is a batch,
// or the workers are close to running out of queued work.
func (f *fetcher) hungry(n int) bool {
	return n >= f.batch || f.queued == nil || f.queued() < f.batch
}

// settlingIDs is f.settling's list, or none.
func (f *fetcher) settlingIDs() []string {
	if f.settling == nil {
		return nil
	}
	return f.settling()
}

// eagerIDs is f.eager's list, or none.
func (f *fetcher) eagerIDs() []string {
	if f.eager == nil {
		return nil
	}
	return f.eager()
}

// run claims until ctx ends.
func (f *fetcher) run(ctx context.Context) {
	// next is the earliest due time as last read. A claim is made only when
	// something is due (one that finds nothing still takes a claim's turn,
	// which on PostgreSQL ingest's hand-offs wait for), and next is read
	// again after a claim that came back short, a notification and the
	// timer (after a full claim more is taken to be due); this node's own
	// retries and hand-backs come by dueAt, and room freed changes nothing
	// of it. Unread (stale, the read failed) counts as due.
	var next time.Time
	var short time.Time // when the next claim may be made, after a short one
	// probe: the last claim found nothing and no new work was told of
	// since, so the next looks for room before it takes the claims' turn
	// (store.DeliveryClaimParams.Probe). Beside endpoints whose backlogs
	// are capped, every attempt that ends wakes a claim that finds
	// nothing, and on PostgreSQL ingest's hand-offs waited for their turn.
	probe := false
	stale := true
	for {
		if stale && f.free() > 0 {
			next, stale = f.nextDue(ctx)
		}
		more := false
		now := f.clock.Now()
		due := stale || (!next.IsZero() && !next.After(now))
		spaced := short.IsZero() || !now.Before(short)
		if n := f.free(); n > 0 && due && spaced && f.hungry(n) {
			cs, err := f.st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
				Owner: f.owner, Now: now, Lease: f.lease,
				Limit: n, PerEndpoint: f.perEndpoint, PerTenant: f.perTenant, Settling: f.settlingIDs(), OwnFactor: OwnLeaseFactor, Eager: f.eagerIDs(),
				Probe: probe,
			})
			if err != nil && ctx.Err() == nil {
				f.log.Error("claim due deliveries", "err", err)
			}
			if len(cs) > 0 {
				f.push(cs)
			}
			more, stale = err == nil && len(cs) == n, true
			probe = f.probes && err == nil && len(cs) == 0
			if more {
				// A full claim: more is likely due, and the next claim,
				// once there is room, finds out. Reading the next due
				// time now was a query after every claim of a backlog
				// (docs/design.md).
				next, stale = now, false
			}
			short = time.Time{}
			if !more && f.gap > 0 {
				short = now.Add(f.gap)
			}
		}
		if more {
			continue
		}

		wait := f.poll
		if f.free() > 0 {
			if stale {
				next, stale = f.nextDue(ctx)
			}
			if d := next.Sub(f.clock.Now()); !next.IsZero() && d > 0 && d < wait {
				wait = d
			}
			// Due already, but spaced from the last short claim: wake at
			// the gap's end.
			if d := short.Sub(f.clock.Now()); !short.IsZero() && d > 0 && d < wait && (stale || (!next.IsZero() && !next.After(f.clock.Now()))) {
				wait = d
			}
		}
		timer := f.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case _, ok := <-f.wake:
			if !ok {
				// The store closed its notifications: poll from now on
				// rather than spin on a closed channel.
				f.wake = nil
			}
			stale, probe = true, false
		case <-f.freed:
			// Room, not new work: what is due is as last read (and as
			// told), and a due delivery an endpoint's cap held back is
			// claimed now. Read again every time, the next due time cost
			// a query per settled attempt.
		case <-f.soon:
		case <-timer.C():
			stale = true
		}
		if t := f.takeSoonest(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
		timer.Stop()
	}
}

// nextDue reads the earliest due time: zero when nothing is waiting, and
// stale when it could not be read.
func (f *fetcher) nextDue(ctx context.Context) (next time.Time, stale bool) {
	switch at, err := f.st.DeliveryNextDue(ctx); {
	case err == nil:
		return at, false
	case errors.Is(err, store.ErrNotFound):
		return time.Time{}, false
	}
	return time.Time{}, true
}
