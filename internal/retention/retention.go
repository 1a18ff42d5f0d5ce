package retention

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Defaults of Config.
const (
	// DefaultRetention is how long finished events are kept unless
	// --retention says otherwise: 30 days.
	DefaultRetention = 720 * time.Hour
	// DefaultBatch is how many events one batch looks at: one transaction
	// that locks their deliveries (PostgreSQL) for a few milliseconds.
	DefaultBatch = 200
	// DefaultLease is how long a run holds the job between batches: if
	// its node dies, another may run within it.
	DefaultLease = time.Minute
	// MaxEvery is the longest wait between two runs.
	MaxEvery = 10 * time.Minute
)

// LeaseName is the name of the lease a run holds, so that one node at a
// time runs.
const LeaseName = "retention"

// Config wires a Sweeper. Store is required.
type Config struct {
	// Base: the store deletes, the clock is the time of the cutoff, the
	// lease and every wait, the logger gets a line per run.
	service.Base
	// Retention is how long a finished event is kept: an event created
	// longer ago whose deliveries are all delivered or failed is deleted
	// with them and their attempts, and a replay that finished longer
	// ago with it. 0 keeps everything: Run returns at once.
	Retention time.Duration
	// Every is the wait between runs; 0 means half the retention, at
	// least a second and at most MaxEvery.
	Every time.Duration
	// Batch is how many events a batch looks at; 0 means DefaultBatch.
	Batch int
	// Lease is how long a run holds the job between batches; 0 means
	// DefaultLease.
	Lease time.Duration
	// Owner names this node in the lease; "" means a new
	// service.NewOwner.
	Owner string
	// OnRun, when set, is told of every run this node made, after it: for
	// metrics. It must not block.
	OnRun func(*Run)
}

// Run is what one run did.
type Run struct {
	Started time.Time
	Ended   time.Time
	// Before is the cutoff: events created before it were looked at.
	Before     time.Time
	Batches    int
	Scanned    int // events looked at
	Events     int // deleted
	Deliveries int // deleted with them
	Attempts   int // deleted with those
	Replays    int // finished replays deleted
	// Endpoints counts the deleted endpoints purged: those of which no
	// delivery remained.
	Endpoints int
	// Err is why the run stopped before its end, nil when it did not.
	Err error
}

// Totals are the sums of every run this node made since it started: what
// counters of the metrics read.
type Totals struct {
	Runs       uint64
	Failed     uint64 // runs that stopped on an error
	Events     uint64
	Deliveries uint64
	Attempts   uint64
	Replays    uint64
	Endpoints  uint64
	// LastRun is when the last run ended; zero before the first.
	LastRun time.Time
}

// Sweeper deletes, in the background, what is older than the retention.
type Sweeper struct {
	cfg Config // with its defaults

	mu     sync.Mutex
	totals Totals
}

// New returns a Sweeper. It does no I/O.
func New(cfg *Config) *Sweeper {
	c := *cfg
	c.Base = c.Base.Init()
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.Owner = cmp.Or(c.Owner, service.NewOwner())
	if c.Every <= 0 {
		c.Every = min(MaxEvery, max(time.Second, c.Retention/2))
	}
	return &Sweeper{cfg: c}
}

// Every is the wait between two runs.
func (s *Sweeper) Every() time.Duration { return s.cfg.Every }

// Totals returns the sums of this node's runs so far.
func (s *Sweeper) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals
}

// Run sweeps at once and then every Every until ctx ends, on the
// Sweeper's clock; with no retention it returns at once. Each run that
// gets the lease (on one node at a time) walks every event older than the
// retention, tenant by tenant and newest first, in batches of short
// transactions, and deletes the finished ones.
func (s *Sweeper) Run(ctx context.Context) error {
	if s.cfg.Retention <= 0 {
		return nil
	}
	t := s.cfg.Clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		r, ran := s.sweep(ctx)
		// The next run is set before this one is told, so that whoever
		// hears of it may move the clock past the next.
		t.Reset(s.cfg.Every)
		if ran {
			s.note(r)
		}
	}
}

// sweep makes one run if this node gets the lease, and reports whether it
// did.
func (s *Sweeper) sweep(ctx context.Context) (*Run, bool) {
	clk, log := s.cfg.Clock, s.cfg.Logger
	now := clk.Now()
	r := &Run{Started: now, Before: now.Add(-s.cfg.Retention)}
	if !s.holdLease(ctx, now) {
		return nil, false
	}
	defer func() {
		if err := s.cfg.Store.LeaseRelease(context.WithoutCancel(ctx), LeaseName, s.cfg.Owner); err != nil {
			log.Warn("retention: release the lease", "error", err.Error())
		}
	}()
	var pos store.EventPosition
	for {
		res, err := s.cfg.Store.EventDeleteFinished(ctx, &store.EventDeleteParams{Before: r.Before, After: pos, Limit: s.cfg.Batch})
		if err != nil {
			r.Err = err
			break
		}
		if res.Done {
			break
		}
		r.Batches++
		r.Scanned += res.Scanned
		r.Events += res.Events
		r.Deliveries += res.Deliveries
		r.Attempts += res.Attempts
		pos = res.Next
		if !s.holdLease(ctx, clk.Now()) {
			r.Err = errors.New("the lease was lost to another node")
			break
		}
	}
	for r.Err == nil {
		n, err := s.cfg.Store.ReplayDeleteFinished(ctx, r.Before, s.cfg.Batch)
		r.Replays += n
		if err != nil {
			r.Err = err
		}
		if n < s.cfg.Batch {
			break
		}
	}
	// Last, the deleted endpoints whose deliveries the walk above took
	// the last of: kept until then so those stayed readable.
	for r.Err == nil {
		n, err := s.cfg.Store.EndpointPurgeDeleted(ctx, s.cfg.Batch)
		r.Endpoints += n
		if err != nil {
			r.Err = err
		}
		if n < s.cfg.Batch {
			break
		}
	}
	r.Ended = clk.Now()
	args := []any{"before", r.Before, "events", r.Events, "deliveries", r.Deliveries, "attempts", r.Attempts,
		"replays", r.Replays, "endpoints", r.Endpoints, "scanned", r.Scanned, "batches", r.Batches, "duration_ms", r.Ended.Sub(r.Started).Milliseconds()}
	if r.Err != nil {
		if ctx.Err() == nil {
			log.Warn("retention run stopped", append(args, "error", r.Err.Error())...)
		}
		return r, true
	}
	log.Info("retention run", args...)
	return r, true
}

// holdLease takes or renews the run's lease.
func (s *Sweeper) holdLease(ctx context.Context, now time.Time) bool {
	ok, err := s.cfg.Store.LeaseTake(ctx, &store.LeaseParams{Name: LeaseName, Owner: s.cfg.Owner, Now: now, Until: now.Add(s.cfg.Lease)})
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("retention: take the lease", "error", err.Error())
		}
		return false
	}
	if !ok {
		s.cfg.Logger.Debug("retention: another node is running it")
	}
	return ok
}

// note adds a run to the totals and tells OnRun.
func (s *Sweeper) note(r *Run) {
	s.mu.Lock()
	t := &s.totals
	t.Runs++
	if r.Err != nil {
		t.Failed++
	}
	t.Events += uint64(r.Events)
	t.Deliveries += uint64(r.Deliveries)
	t.Attempts += uint64(r.Attempts)
	t.Replays += uint64(r.Replays)
	t.Endpoints += uint64(r.Endpoints)
	t.LastRun = r.Ended
	s.mu.Unlock()
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(r)
	}
}
