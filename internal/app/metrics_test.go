package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/internal/app"
)

// scrape returns what the server's /metrics serves, and its series by
// name and labels ("herald_deliveries{status=\"pending\"}").
func (l *live) scrape() (string, map[string]float64) {
	l.t.Helper()
	resp, err := http.Get(l.base + "/metrics")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		l.t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		l.t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, raw)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"=\""+lp.GetValue()+"\"")
			}
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			case m.Untyped != nil:
				out[key] = m.Untyped.GetValue()
			}
		}
	}
	return string(raw), out
}

// metricsServer runs a server with the tenant label on for one tenant,
// acme with one endpoint at a receiver that answers 204.
func metricsServer(t *testing.T) *live {
	t.Helper()
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rc.Close)
	l, _ := runServer(t, &app.Config{AllowPrivateDestinations: true, MetricsTenantLabel: 1}, nil)
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "globex"})
	l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": rc.URL})
	return l
}

// TestMetrics_MoveAsDeliveriesHappen: /metrics counts an accepted event,
// its delivered attempt and its latency, with the tenant label bounded
// by --metrics-tenant-label, beside the queue's gauges and the Go and
// process collectors.
func TestMetrics_MoveAsDeliveriesHappen(t *testing.T) {
	t.Parallel()
	l := metricsServer(t)
	_, before := l.scrape()
	for _, name := range []string{
		`herald_delivery_attempts_total{outcome="delivered",status_class="2xx"}`,
		`herald_delivery_attempts_total{outcome="failed",status_class="5xx"}`,
		`herald_delivery_attempt_duration_seconds_count`,
		`herald_delivery_latency_seconds_count`,
		`herald_deliveries{status="pending"}`, `herald_deliveries{status="delivering"}`, `herald_deliveries{status="retrying"}`,
		`herald_delivery_oldest_due_age_seconds`, `herald_delivery_inflight`, `herald_endpoints_disabled`,
		`herald_delivery_destinations_refused_total`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if v, ok := before[name]; !ok || (strings.HasPrefix(name, "herald_") && v != 0) {
			t.Errorf("before any event, %s = %v (served: %v), want it served at 0", name, v, ok)
		}
	}

	l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})
	// A second tenant, past the one labelled, is counted as (other).
	l.must(http.StatusAccepted, "POST", "/api/v1/tenants/globex/events", map[string]any{"type": "user.created", "data": map[string]any{}})
	// A re-post of a stored event is not a new one.
	l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "id": "order-1", "data": map[string]any{}})
	l.must(http.StatusOK, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "id": "order-1", "data": map[string]any{}})

	var after map[string]float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, after = l.scrape()
		if after[`herald_delivery_attempts_total{outcome="delivered",status_class="2xx"}`] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two deliveries did not show in /metrics within 10s: %v", after)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, want := range map[string]float64{
		`herald_events_accepted_total{tenant="acme"}`:    2,
		`herald_events_accepted_total{tenant="(other)"}`: 1,
		`herald_delivery_attempt_duration_seconds_count`: 2,
		`herald_delivery_latency_seconds_count`:          2,
	} {
		if got := after[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := after[`herald_events_accepted_total{tenant="globex"}`]; ok {
		t.Errorf("globex has a series of its own, past the bound of one labelled tenant")
	}
}

// promtool returns the path of promtool. Missing, it fails the test in CI
// (CI=true, where .ci/setup installs it) and skips it elsewhere.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		const msg = "promtool is not installed (Debian's prometheus package; .ci/setup installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// TestMetrics_PassPromtoolCheckMetrics: what /metrics serves, with every
// series of Herald's own moved at least once, passes `promtool check
// metrics` without a complaint.
func TestMetrics_PassPromtoolCheckMetrics(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	l := metricsServer(t)
	l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})
	deadline := time.Now().Add(10 * time.Second)
	var text string
	for {
		var got map[string]float64
		text, got = l.scrape()
		if got[`herald_delivery_latency_seconds_count`] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery did not show in /metrics within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s\nof:\n%s", err, out, text)
	}
}

// alertsFile is the example alert rules of docs/operations.md.
var alertsFile = filepath.Join("..", "..", "docs", "alerts.yml")

// TestAlertRules_PassPromtool: the example rules are valid
// (`promtool check rules`) and do what docs/alerts_test.yml says
// (`promtool test rules`).
func TestAlertRules_PassPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"test", "rules", filepath.Join("..", "..", "docs", "alerts_test.yml")},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRules_NameOnlyServedSeries: every herald_* series the example
// rules use is one /metrics serves, so a renamed series cannot leave an
// alert that never fires.
func TestAlertRules_NameOnlyServedSeries(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	l := metricsServer(t)
	_, served := l.scrape()
	names := map[string]bool{}
	for key := range served {
		name, _, _ := strings.Cut(key, "{")
		names[name] = true
		if base, ok := strings.CutSuffix(name, "_count"); ok {
			// A histogram's _bucket, _sum and _count.
			names[base+"_bucket"], names[base+"_sum"] = true, true
		}
	}
	used := regexp.MustCompile(`herald_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) < 5 {
		t.Fatalf("the rules name %d herald series, want the alerts of docs/operations.md", len(used))
	}
	slices.Sort(used)
	for _, name := range slices.Compact(used) {
		if !names[name] {
			t.Errorf("%s names %s, which /metrics does not serve", alertsFile, name)
		}
	}
}
