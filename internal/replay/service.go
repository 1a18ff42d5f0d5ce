package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Defaults of Config.
const (
	// DefaultBatch is how many deliveries one batch looks at: a batch is
	// one transaction that locks them (PostgreSQL) for a few milliseconds.
	DefaultBatch = 200
	// DefaultLease is how long a replay stays a node's between batches: a
	// replay whose node died is taken up by another within it.
	DefaultLease = 30 * time.Second
	// DefaultPoll is how often a runner with nothing to do looks for
	// running replays nobody holds (a restart's, another node's).
	DefaultPoll = 5 * time.Second
)

// Config wires a Service. Store is required.
type Config struct {
	// Base: the store keeps the replays and queues the deliveries, the
	// clock is the time of every window, lease and batch, the logger gets
	// a line when a replay starts and when it ends.
	service.Base
	// Owner names this node in the replays' leases; "" means a new
	// service.NewOwner.
	Owner string
	// Batch is how many deliveries a batch looks at; 0 means DefaultBatch.
	Batch int
	// Lease is how long a replay stays this node's without a batch; 0
	// means DefaultLease.
	Lease time.Duration
	// Poll is how often Run looks for replays nobody holds; 0 means
	// DefaultPoll.
	Poll time.Duration
}

// Service starts replays and shows them, and its Run carries running
// replays to their end.
type Service struct {
	Config // with its defaults
	kick   chan struct{}
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	s := &Service{Config: *cfg, kick: make(chan struct{}, 1)}
	s.Base = s.Base.Init()
	s.Owner = cmp.Or(s.Owner, service.NewOwner())
	s.Batch = cmp.Or(s.Batch, DefaultBatch)
	s.Lease = cmp.Or(s.Lease, DefaultLease)
	s.Poll = cmp.Or(s.Poll, DefaultPoll)
	return s
}

// StartParams is a replay to start: the deliveries to one endpoint created
// at or after Since and before Until, of one status and, optionally, of
// some event types.
type StartParams struct {
	Since time.Time
	// Until nil means now.
	Until *time.Time
	// Status is the status of the deliveries to queue again: failed (""
	// means failed) or delivered.
	Status string
	// EventType filters by event type: an exact name, "a.*" or "*"; ""
	// means every type.
	EventType string
}

// Start checks p, stores a running replay of the endpoint and runs its
// first batch at once, so that a replay of a few deliveries is done by
// the time it is answered; a longer one goes on in Run, on this node or
// another. The deliveries it queues are pending, due now, and go through
// the queue like any other.
func (s *Service) Start(ctx context.Context, tenantID, endpointID string, p *StartParams) (*store.Replay, error) {
	now := s.Clock.Now()
	until := now
	if p.Until != nil {
		until = *p.Until
	}
	var fe herald.Fields
	if !until.After(p.Since) {
		fe.Add("until", "must be after since")
	}
	status := cmp.Or(p.Status, store.StatusFailed)
	if !store.ReplayStatusOK(status) {
		fe.Add("status", "must be failed or delivered: only finished deliveries are replayed")
	}
	if p.EventType != "" && !naming.EventFilter(p.EventType) {
		fe.Add("event_type", "must be an event type name, a.* for every type under a., or *")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	lease := now.Add(s.Lease)
	r, err := s.Store.ReplayCreate(ctx, &store.Replay{
		TenantID: tenantID, EndpointID: endpointID, Since: p.Since, Until: until,
		DeliveryStatus: status, EventType: p.EventType,
		LeaseOwner: s.Owner, LeaseExpiresAt: &lease, CreatedAt: now,
	})
	if errors.Is(err, herald.ErrNotFound) {
		return nil, herald.Errorf(herald.ErrNotFound, "endpoint %s not found", endpointID)
	}
	if err != nil {
		return nil, fmt.Errorf("start replay of endpoint %s: %w", endpointID, err)
	}
	s.Logger.Info("replay started", "tenant_id", tenantID, "endpoint_id", endpointID, "replay_id", r.ID,
		"since", r.Since, "until", r.Until, "delivery_status", status, "event_type", p.EventType)
	got, err := s.step(ctx, r.ID)
	if err != nil {
		// The replay is stored and leased to this node: Run, or another
		// node once the lease runs out, carries on.
		s.Logger.Warn("replay: first batch", "replay_id", r.ID, "error", err.Error())
		s.Kick()
		return r, nil
	}
	if got.Status == store.ReplayRunning {
		s.Kick()
	} else {
		s.ended(got)
	}
	return got, nil
}

// Get returns one of the tenant's replays.
func (s *Service) Get(ctx context.Context, tenantID, replayID string) (*store.Replay, error) {
	r, err := s.Store.ReplayGet(ctx, tenantID, replayID)
	if errors.Is(err, herald.ErrNotFound) {
		return nil, herald.Errorf(herald.ErrNotFound, "replay %s not found", replayID)
	}
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", replayID, err)
	}
	return r, nil
}

// List returns a page of the tenant's replays, newest first (one more
// than p.Limit when there is a next page, as store lists do).
func (s *Service) List(ctx context.Context, tenantID string, p *store.ReplayListParams) ([]*store.Replay, error) {
	rows, err := s.Store.ReplayList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list replays of %s: %w", tenantID, err)
	}
	return rows, nil
}

// Kick tells Run to look for running replays now rather than at its next
// poll.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run carries running replays to their end until ctx ends: it claims the
// oldest one nobody holds (a restart's, or one whose node died, once its
// lease has run out) or that this node holds, runs its batches one after
// another, each renewing the lease, and then the next; with none it
// waits for Kick or its poll, on the service's clock.
func (s *Service) Run(ctx context.Context) error {
	t := s.Clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		case <-s.kick:
		}
		for s.runOne(ctx) {
		}
		t.Reset(s.Poll)
	}
}

// runOne claims one replay and runs it until it ends, its lease is lost
// or ctx ends; it reports whether another may be waiting.
func (s *Service) runOne(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	now := s.Clock.Now()
	r, err := s.Store.ReplayClaim(ctx, s.Owner, now, now.Add(s.Lease))
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return false
	case err != nil:
		if ctx.Err() == nil {
			s.Logger.Warn("replay: claim", "error", err.Error())
		}
		return false
	}
	for r.Status == store.ReplayRunning {
		if ctx.Err() != nil {
			return false // the lease runs out and someone resumes it
		}
		next, err := s.step(ctx, r.ID)
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			// Another node took it (this one was too slow): it is
			// theirs to finish.
			s.Logger.Info("replay: lease lost to another node", "replay_id", r.ID)
			return true
		case err != nil:
			if ctx.Err() == nil {
				s.Logger.Warn("replay: batch", "replay_id", r.ID, "error", err.Error())
			}
			return false
		}
		r = next
	}
	s.ended(r)
	return true
}

// step runs one batch of a replay this node holds.
func (s *Service) step(ctx context.Context, replayID string) (*store.Replay, error) {
	now := s.Clock.Now()
	return s.Store.ReplayStep(ctx, &store.ReplayStepParams{
		ID: replayID, Owner: s.Owner, Now: now, LeaseUntil: now.Add(s.Lease), Limit: s.Batch,
	})
}

// ended logs a replay that has come to its end.
func (s *Service) ended(r *store.Replay) {
	args := []any{"tenant_id", r.TenantID, "endpoint_id", r.EndpointID, "replay_id", r.ID,
		"status", r.Status, "queued", r.Queued, "scanned", r.Scanned}
	if r.Status == store.ReplayFailed {
		s.Logger.Warn("replay failed", append(args, "error", r.Error)...)
		return
	}
	s.Logger.Info("replay done", args...)
}
