package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// fetcher claims due deliveries for the dispatcher: as many as it has room
// for (its workers and a prefetch beyond them, so a worker that finishes
// finds the next delivery already claimed), again at once while claims come
// back full, and otherwise when woken: by a notification of new due work
// from any node, by room freed in the dispatcher, by the next retry coming
// due, or by the poll interval as a fallback.
type fetcher struct {
	st          store.Store
	clock       clock.Clock
	log         *slog.Logger
	owner       string
	lease       time.Duration
	perEndpoint int
	perTenant   int // leases of one tenant, across nodes
	poll        time.Duration

	wake  <-chan struct{}           // store.Listen's
	free  func() int                // room in the dispatcher
	freed <-chan struct{}           // room was made
	push  func(cs []*store.Claimed) // to the dispatcher
}

// run claims until ctx ends.
func (f *fetcher) run(ctx context.Context) {
	for {
		more := false
		if n := f.free(); n > 0 {
			claimed, err := f.st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
				Owner: f.owner, Now: f.clock.Now(), Lease: f.lease,
				Limit: n, PerEndpoint: f.perEndpoint, PerTenant: f.perTenant,
			})
			if err != nil && ctx.Err() == nil {
				f.log.Error("claim due deliveries", "err", err)
			}
			if len(claimed) > 0 {
				f.push(claimed)
			}
			more = err == nil && len(claimed) == n
		}
		if more {
			continue
		}

		wait := f.poll
		if f.free() > 0 {
			if next, err := f.st.DeliveryNextDue(ctx); err == nil {
				if d := next.Sub(f.clock.Now()); d > 0 && d < wait {
					wait = d
				}
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
		case <-f.freed:
		case <-timer.C():
		}
		timer.Stop()
	}
}
