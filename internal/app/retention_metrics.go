package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/retention"
)

// retentionCollector serves the totals of this node's retention runs
// (retention.Sweeper.Totals) as Prometheus series, read when scraped.
type retentionCollector struct {
	s                      *retention.Sweeper
	runs, deleted, lastRun *prometheus.Desc
}

func newRetentionCollector(s *retention.Sweeper) *retentionCollector {
	return &retentionCollector{
		s: s,
		runs: prometheus.NewDesc("herald_retention_runs_total",
			"Retention runs this node made (the others found another node running it), by result: ok, or error when a run stopped early.",
			[]string{"result"}, nil),
		deleted: prometheus.NewDesc("herald_retention_deleted_total",
			"What this node's retention runs deleted, by kind: events, deliveries, attempts, replays, endpoints (deleted endpoints purged once none of their deliveries remained).",
			[]string{"kind"}, nil),
		lastRun: prometheus.NewDesc("herald_retention_last_run_timestamp_seconds",
			"When this node's last retention run ended, in seconds since the epoch; 0 before its first.",
			nil, nil),
	}
}

func (c *retentionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runs
	ch <- c.deleted
	ch <- c.lastRun
}

func (c *retentionCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.Totals()
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(t.Runs-t.Failed), "ok")
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(t.Failed), "error")
	for kind, n := range map[string]uint64{"events": t.Events, "deliveries": t.Deliveries, "attempts": t.Attempts, "replays": t.Replays, "endpoints": t.Endpoints} {
		ch <- prometheus.MustNewConstMetric(c.deleted, prometheus.CounterValue, float64(n), kind)
	}
	last := 0.0
	if !t.LastRun.IsZero() {
		last = float64(t.LastRun.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.lastRun, prometheus.GaugeValue, last)
}
