package delivery

import (
	"cmp"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// DefaultStatsMaxAge is how old the figures read from the database may be
// when /metrics is scraped, unless MetricsConfig.StatsMaxAge says
// otherwise: a scrape within it of the last read reads nothing.
const DefaultStatsMaxAge = 10 * time.Second

// statsTimeout bounds one read of the database's figures: a scrape that
// waits longer would time out anyway.
const statsTimeout = 5 * time.Second

// OtherTenant is the tenant label of events accepted for tenants beyond
// the first MetricsConfig.TenantLabel: no tenant id can be it, since
// parentheses are not allowed in one.
const OtherTenant = "(other)"

// MetricsConfig says what Herald's series are made of beyond a registry.
// Every field may be left zero.
type MetricsConfig struct {
	// Store, when set, answers the gauges of the deployment's queue:
	// herald_deliveries, herald_delivery_oldest_due_age_seconds and
	// herald_endpoints_disabled. Without it they are not registered.
	Store store.Store
	// Clock is the time of those gauges; nil means the wall clock.
	Clock clock.Clock
	// Logger hears of a failed read of them; nil discards.
	Logger *slog.Logger
	// StatsMaxAge is how old the gauges read from the store may be when
	// scraped; 0 means DefaultStatsMaxAge.
	StatsMaxAge time.Duration
	// TenantLabel, when above 0, labels herald_events_accepted_total by
	// tenant for the first TenantLabel tenants this node accepts events
	// for, and counts the rest under OtherTenant, so that the series stay
	// bounded however many tenants there are. 0 means no tenant label.
	TenantLabel int
}

// Metrics are Herald's own Prometheus series: the events accepted, the
// engine's attempts, and the gauges of the queue read from the database.
// A nil *Metrics records nothing.
type Metrics struct {
	accepted *acceptedCounter
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
	latency  prometheus.Histogram
	inflight prometheus.Gauge
	refused  prometheus.Counter
}

// Status classes of herald_delivery_attempts_total: the receiver's
// answer's class, "none" when there was no answer (a timeout, a refused
// connection or destination), "other" for a code outside 100 to 599.
const (
	classNone  = "none"
	classOther = "other"
)

// NewMetrics registers Herald's series with reg. It does no I/O: the
// database is read when the gauges are scraped.
func NewMetrics(reg prometheus.Registerer, cfg *MetricsConfig) *Metrics {
	m := &Metrics{
		accepted: newAcceptedCounter(cfg.TenantLabel),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_attempts_total",
			Help: "Delivery attempts made on this node, by the status they left the delivery in (outcome: delivered, retrying, failed) and the class of the receiver's answer (status_class: 1xx to 5xx, none without an answer).",
		}, []string{"outcome", "status_class"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_attempt_duration_seconds",
			Help:    "Time from sending an attempt's request to the receiver's last byte, or to the failure.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_delivery_latency_seconds",
			Help: "Time from an event's acceptance to its delivery to an endpoint, retries included.",
			// 5 ms to about 43 minutes by doubling, then an hour, six and a
			// day: a delivery that waited out retries still lands in a
			// bucket.
			Buckets: append(prometheus.ExponentialBuckets(0.005, 2, 20), 3600, 6*3600, 24*3600),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_delivery_inflight",
			Help: "Attempts being sent on this node, test sends included.",
		}),
		// A node that refuses what its peers allow (started without
		// --allow-private-destinations beside nodes with it) fails their
		// endpoints' deliveries; this counter and the start-up warning of
		// the nodes table are how that shows.
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_delivery_destinations_refused_total",
			Help: "Attempts this node did not send because the endpoint's address is internal (loopback, private, link-local, ...) and this node does not allow private destinations.",
		}),
	}
	// Every outcome the engine can record exists from the start, at 0, so
	// that rates and alerts over them have series before the first
	// failure.
	m.attempts.WithLabelValues(store.StatusDelivered, "2xx")
	for _, outcome := range []string{store.StatusRetrying, store.StatusFailed} {
		for _, class := range []string{"1xx", "3xx", "4xx", "5xx", classNone} {
			m.attempts.WithLabelValues(outcome, class)
		}
	}
	reg.MustRegister(m.accepted.collector(), m.attempts, m.duration, m.latency, m.inflight, m.refused)
	if cfg.Store != nil {
		reg.MustRegister(newStatsCollector(cfg))
	}
	return m
}

// EventAccepted counts one event newly stored for tenantID (not a
// re-post of an event already stored).
func (m *Metrics) EventAccepted(tenantID string) {
	if m == nil {
		return
	}
	m.accepted.inc(tenantID)
}

// observeAttempt counts an attempt that left its delivery in status, and
// when it delivered, the time since its event was accepted.
func (m *Metrics) observeAttempt(status string, out *outcome, eventCreated, now time.Time) {
	if m == nil {
		return
	}
	// The attempt is counted last: a scrape that sees it counted sees its
	// duration and latency too (TestMetrics_MoveAsDeliveriesHappen read
	// the count at 2 and a histogram's at 1 in between).
	m.duration.Observe(out.duration.Seconds())
	if status == store.StatusDelivered {
		m.latency.Observe(now.Sub(eventCreated).Seconds())
	}
	m.attempts.WithLabelValues(status, statusClass(out.code)).Inc()
}

func (m *Metrics) refusedDestination() {
	if m == nil {
		return
	}
	m.refused.Inc()
}

func (m *Metrics) setInflight(n int) {
	if m == nil {
		return
	}
	m.inflight.Set(float64(n))
}

// statusClass is the status_class label of a receiver's status code.
func statusClass(code int) string {
	switch {
	case code == 0:
		return classNone
	case code < 100 || code > 599:
		return classOther
	}
	return strconv.Itoa(code/100) + "xx"
}

// acceptedCounter is herald_events_accepted_total: one series, or one per
// tenant for up to max tenants and OtherTenant for the rest.
type acceptedCounter struct {
	plain prometheus.Counter
	vec   *prometheus.CounterVec
	max   int

	mu       sync.Mutex
	labelled map[string]bool
}

func newAcceptedCounter(max int) *acceptedCounter {
	const name, help = "herald_events_accepted_total", "Events accepted through the API on this node: stored with their deliveries, re-posts of a stored event not counted."
	if max <= 0 {
		return &acceptedCounter{plain: prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})}
	}
	c := &acceptedCounter{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name, Help: help + " By tenant for the first tenants seen, the rest as tenant=\"" + OtherTenant + "\".",
		}, []string{"tenant"}),
		max: max, labelled: map[string]bool{},
	}
	c.vec.WithLabelValues(OtherTenant)
	return c
}

func (c *acceptedCounter) collector() prometheus.Collector {
	if c.vec != nil {
		return c.vec
	}
	return c.plain
}

func (c *acceptedCounter) inc(tenantID string) {
	if c.vec == nil {
		c.plain.Inc()
		return
	}
	c.mu.Lock()
	if !c.labelled[tenantID] {
		if len(c.labelled) < c.max {
			c.labelled[tenantID] = true
		} else {
			tenantID = OtherTenant
		}
	}
	c.mu.Unlock()
	c.vec.WithLabelValues(tenantID).Inc()
}

// statsCollector reports the gauges of the deployment's queue from
// store.Stats, read when scraped but at most once per maxAge however
// often or however many at once scrape: the figures are the whole
// deployment's, the same on every node, and reading them costs a count of
// the unfinished deliveries.
type statsCollector struct {
	st     store.Store
	clock  clock.Clock
	log    *slog.Logger
	maxAge time.Duration

	deliveries, oldestDue, disabled *prometheus.Desc

	mu     sync.Mutex
	readAt time.Time
	last   *statsReading // nil before the first read and after a failed one
}

// statsReading is what one read of store.Stats came to.
type statsReading struct {
	deliveries map[string]int
	oldestDue  float64 // seconds the earliest due delivery has waited; 0 when none is due
	disabled   int
}

func newStatsCollector(cfg *MetricsConfig) *statsCollector {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &statsCollector{
		st: cfg.Store, clock: clock.Or(cfg.Clock), log: log, maxAge: cmp.Or(cfg.StatsMaxAge, DefaultStatsMaxAge),
		deliveries: prometheus.NewDesc("herald_deliveries",
			"Unfinished deliveries of the whole deployment by status (pending, delivering, retrying): the queue's depth. The same on every node.",
			[]string{"status"}, nil),
		oldestDue: prometheus.NewDesc("herald_delivery_oldest_due_age_seconds",
			"How long the earliest due delivery of an enabled endpoint has been waiting past its due time; 0 when none is due. The same on every node.",
			nil, nil),
		disabled: prometheus.NewDesc("herald_endpoints_disabled",
			"Endpoints that are not enabled, of every tenant. The same on every node.",
			nil, nil),
	}
}

// Describe sends the gauges' descriptions.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.deliveries
	ch <- c.oldestDue
	ch <- c.disabled
}

// Collect sends the gauges, read from the store unless the last read is
// recent enough. When the store cannot be read, the gauges are left out
// of this scrape (the rest of /metrics is still served) and /readyz says
// why.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.reading()
	if r == nil {
		return
	}
	for _, status := range []string{store.StatusPending, store.StatusDelivering, store.StatusRetrying} {
		ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.GaugeValue, float64(r.deliveries[status]), status)
	}
	ch <- prometheus.MustNewConstMetric(c.oldestDue, prometheus.GaugeValue, r.oldestDue)
	ch <- prometheus.MustNewConstMetric(c.disabled, prometheus.GaugeValue, float64(r.disabled))
}

// reading returns the last reading when it is recent, and reads the store
// otherwise; scrapes that come while one reads wait for its reading.
func (c *statsCollector) reading() *statsReading {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.last != nil && now.Sub(c.readAt) < c.maxAge {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	s, err := c.st.Stats(ctx)
	if err != nil {
		c.log.Warn("read the queue's figures for /metrics", "err", err)
		c.last = nil
		return nil
	}
	r := &statsReading{deliveries: s.Deliveries, disabled: s.EndpointsDisabled}
	if s.NextDue != nil {
		r.oldestDue = max(0, now.Sub(*s.NextDue).Seconds())
	}
	c.last, c.readAt = r, now
	return r
}
