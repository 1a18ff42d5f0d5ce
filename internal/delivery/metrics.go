package delivery

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
	latency  prometheus.Histogram
	inflight prometheus.Gauge
}

// NewMetrics registers the engine's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_attempts_total",
			Help: "Delivery attempts by the status they left the delivery in.",
		}, []string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_attempt_duration_seconds",
			Help:    "Time from sending a request to the receiver's last byte.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_latency_seconds",
			Help:    "Time from an event's acceptance to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 20),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_delivery_inflight",
			Help: "Attempts in flight on this node.",
		}),
	}
	reg.MustRegister(m.attempts, m.duration, m.latency, m.inflight)
	return m
}

func (m *Metrics) observeAttempt(status string, out *outcome, eventCreated, now time.Time) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(status).Inc()
	m.duration.Observe(out.duration.Seconds())
	if status == "delivered" {
		m.latency.Observe(now.Sub(eventCreated).Seconds())
	}
}

func (m *Metrics) setInflight(n int) {
	if m == nil {
		return
	}
	m.inflight.Set(float64(n))
}
