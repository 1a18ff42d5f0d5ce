package overview

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// LatencySample is the most deliveries the latency percentiles are read
// from: the latest delivered. Past it the percentiles are of the latest
// LatencySample of the hour's, which keeps the read bounded however busy
// the hour was.
const LatencySample = 2000

// DisabledShown is the most disabled endpoints listed; all are counted.
const DisabledShown = 10

// Overview is the deployment's state at At.
type Overview struct {
	At time.Time
	// Minutes are the minutes of the last hour, oldest first; the last is
	// the current minute, not over yet.
	Minutes []Bucket
	// Hours are the hours of the last day, oldest first; the last is the
	// current hour.
	Hours   []Bucket
	Latency Latency
	// Queue counts the unfinished deliveries by status: pending,
	// delivering and retrying.
	Queue map[string]int
	// OldestDue is when the earliest claimable delivery was due, nil when
	// none waits.
	OldestDue *time.Time
	// Disabled are up to DisabledShown of the DisabledCount disabled
	// endpoints, in id order.
	Disabled      []*store.Endpoint
	DisabledCount int
}

// Bucket is how many deliveries finished in a span of time.
type Bucket struct {
	Start, End        time.Time
	Delivered, Failed int
}

// Latency is how long the deliveries delivered in the span of Minutes
// took, from their event's acceptance to their delivery.
type Latency struct {
	// Delivered is how many were delivered in the span.
	Delivered int
	// Sampled is how many the percentiles are of: the latest delivered,
	// all of them up to LatencySample.
	Sampled int
	// P50, P90 and P99 are the nearest-rank percentiles of the sample;
	// zero when it is empty.
	P50, P90, P99 time.Duration
}

// CacheTTL is how long a node keeps the overview it read: however many
// browsers show it (each polls it), the database is asked at most once in
// that time, as the metrics' gauges are.
const CacheTTL = 10 * time.Second

// Service reads the overview.
type Service struct {
	service.Base
	recent *service.Recent[*Overview]
}

// NewService returns a Service over b's store, on b's clock. It does no
// I/O.
func NewService(b *service.Base) *Service {
	base := b.Init()
	return &Service{Base: base, recent: service.NewRecent[*Overview](base.Clock, CacheTTL, 1)}
}

// Get returns the overview read less than CacheTTL ago, or reads it now:
// four reads, each on an index.
func (s *Service) Get(ctx context.Context) (*Overview, error) {
	if o, ok := s.recent.Get(""); ok {
		return o, nil
	}
	o, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	s.recent.Put("", o)
	return o, nil
}

func (s *Service) read(ctx context.Context) (*Overview, error) {
	now := s.Clock.Now().UTC()
	o := &Overview{
		At:      now,
		Minutes: buckets(now.Truncate(time.Minute), time.Minute, 60),
		Hours:   buckets(now.Truncate(time.Hour), time.Hour, 24),
	}
	all := make([]*Bucket, 0, len(o.Minutes)+len(o.Hours))
	for i := range o.Minutes {
		all = append(all, &o.Minutes[i])
	}
	for i := range o.Hours {
		all = append(all, &o.Hours[i])
	}
	ws := make([]store.Window, len(all))
	for i, b := range all {
		ws[i] = store.Window{Since: b.Start, Until: b.End}
	}
	counts, err := s.Store.DeliveryFinishedCounts(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	for i, c := range counts {
		all[i].Delivered, all[i].Failed = c.Delivered, c.Failed
	}
	for _, b := range o.Minutes {
		o.Latency.Delivered += b.Delivered
	}
	lat, err := s.Store.DeliveryLatencies(ctx, o.Minutes[0].Start, LatencySample)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	o.Latency.Sampled = len(lat)
	o.Latency.P50, o.Latency.P90, o.Latency.P99 = Percentile(lat, 50), Percentile(lat, 90), Percentile(lat, 99)

	st, err := s.Store.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	o.Queue, o.OldestDue, o.DisabledCount = st.Deliveries, st.NextDue, st.EndpointsDisabled
	if o.DisabledCount > 0 {
		if o.Disabled, err = s.Store.EndpointListDisabled(ctx, DisabledShown); err != nil {
			return nil, fmt.Errorf("overview: %w", err)
		}
	}
	return o, nil
}

// buckets are n spans of width, oldest first, the last starting at last.
func buckets(last time.Time, width time.Duration, n int) []Bucket {
	out := make([]Bucket, n)
	for i := range out {
		start := last.Add(-time.Duration(n-1-i) * width)
		out[i] = Bucket{Start: start, End: start.Add(width)}
	}
	return out
}

// Percentile is the nearest-rank p-th percentile of ds (in any order):
// the smallest value at least p percent of them are at or below. Zero
// when ds is empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
