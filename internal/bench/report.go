package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/internal/humanize"
)

// Report is every figure of one run. Times are in milliseconds or seconds
// as the field name says; a Ratio is the figure over the raw ceiling of
// the same run (RawPerSecond over Raw.PerSecond).
type Report struct {
	StartedAt time.Time `json:"started_at"`
	Seconds   float64   `json:"seconds"`
	// Server is "in-process" or the --target URL; Database the in-process
	// server's database URL, password removed.
	Server    string   `json:"server"`
	Database  string   `json:"database,omitempty"`
	CPUs      int      `json:"cpus"`
	GoVersion string   `json:"go_version"`
	Producers int      `json:"producers"`
	Scenarios []string `json:"scenarios"`

	Raw            *Raw          `json:"raw"`
	Ingest         *Ingest       `json:"ingest,omitempty"`
	Throughput     []*Throughput `json:"throughput,omitempty"`
	Latency        *Latency      `json:"latency,omitempty"`
	NoisyNeighbour *Noisy        `json:"noisy_neighbour,omitempty"`
	FairShare      *FairShare    `json:"fair_share,omitempty"`
	Failures       *Failures     `json:"failures,omitempty"`
	Backlog        *Backlog      `json:"backlog,omitempty"`
}

// Percentiles of end-to-end times, in milliseconds: from the moment the
// POST that carried the event was sent until the receiver had it.
type Percentiles struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// Raw is the ceiling: the same number of signed ~1 KiB POSTs from the
// bench's sender straight to its receiver, at the same concurrency; the
// median of Rounds, each round's rate.
type Raw struct {
	Requests  int         `json:"requests"`
	Rounds    []float64   `json:"rounds_per_second"`
	Seconds   float64     `json:"seconds"`
	PerSecond float64     `json:"per_second"`
	Latency   Percentiles `json:"latency"`
}

// Ingest is events accepted (202, after commit) per second with no
// endpoint to deliver to.
type Ingest struct {
	Events    int     `json:"events"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	Ratio     float64 `json:"ratio"`
}

// Throughput is one saturated run: events posted as fast as the producers
// can, each delivered to Fanout endpoints.
type Throughput struct {
	Fanout     int     `json:"fanout"`
	Events     int     `json:"events"`
	Deliveries int     `json:"deliveries"`
	Delivered  int     `json:"delivered"`
	Complete   bool    `json:"complete"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Ratio      float64 `json:"ratio"`
	// AcceptedPerSecond is how fast the API took the events meanwhile.
	AcceptedPerSecond float64     `json:"accepted_per_second"`
	Latency           Percentiles `json:"latency"`
}

// Latency is a run at a fixed rate, well or not so well below capacity:
// the time one event takes end to end.
type Latency struct {
	Rate         int         `json:"rate"`
	Seconds      float64     `json:"seconds"`
	Events       int         `json:"events"`
	Delivered    int         `json:"delivered"`
	Complete     bool        `json:"complete"`
	AchievedRate float64     `json:"achieved_rate"`
	Latency      Percentiles `json:"latency"`
}

// Noisy is the noisy-neighbour scenario: the same paced load to 10
// healthy endpoints, alone and then beside 2 that answer after 10 s and 2
// that refuse connections. Ratio is the healthy p99 beside the bad ones
// over the p99 without them.
type Noisy struct {
	Healthy  int      `json:"healthy"`
	Slow     int      `json:"slow"`
	Refused  int      `json:"refused"`
	Rate     int      `json:"rate"`
	Seconds  float64  `json:"seconds"`
	Alone    NoisyRun `json:"alone"`
	Beside   NoisyRun `json:"beside_bad"`
	P99Ratio float64  `json:"p99_ratio"`
}

// NoisyRun is one of the two runs of the noisy-neighbour scenario:
// deliveries to the healthy endpoints only.
type NoisyRun struct {
	Deliveries int         `json:"deliveries"`
	Delivered  int         `json:"delivered"`
	Complete   bool        `json:"complete"`
	Latency    Percentiles `json:"latency"`
}

// FairShare is the fair-share scenario: one tenant's paced load to its 2
// healthy endpoints, alone and then beside another tenant that first
// posted a burst to endpoints that hang (answer after 10 s) and endpoints
// limited to one attempt a second. Ratio is the first tenant's p99 beside
// the other over its p99 alone.
type FairShare struct {
	Healthy     int      `json:"healthy"`
	Hanging     int      `json:"abuser_hanging"`
	RateLimited int      `json:"abuser_rate_limited"`
	Burst       int      `json:"abuser_events"`
	Rate        int      `json:"rate"`
	Seconds     float64  `json:"seconds"`
	Alone       NoisyRun `json:"alone"`
	Beside      NoisyRun `json:"beside_abuser"`
	P99Ratio    float64  `json:"p99_ratio"`
}

// Failures is a run against a receiver that answers 500 to 30% of attempts
// at random, with a short retry schedule.
type Failures struct {
	Events      int     `json:"events"`
	FailRate    float64 `json:"fail_rate"`
	Delivered   int     `json:"delivered"`
	Complete    bool    `json:"complete"`
	Attempts    int     `json:"attempts"`
	Answered500 int     `json:"answered_500"`
	Duplicates  int     `json:"duplicates"`
	// GivenUp is how many deliveries Herald failed, every attempt of the
	// retry schedule answered 500: 0.3^11 a delivery, so about one run of
	// 2,000 events in 300 has one. A delivery neither delivered nor given
	// up within the wait was lost or is late.
	GivenUp int `json:"given_up"`
	// DrainSeconds runs from the last event accepted to the last delivery;
	// Seconds from the first POST.
	DrainSeconds float64 `json:"drain_seconds"`
	Seconds      float64 `json:"seconds"`
}

// Backlog is deliveries held back (their receivers hold every request
// until released) and then released.
type Backlog struct {
	Deliveries   int     `json:"deliveries"`
	Endpoints    int     `json:"endpoints"`
	Delivered    int     `json:"delivered"`
	Complete     bool    `json:"complete"`
	DrainSeconds float64 `json:"drain_seconds"`
	PerSecond    float64 `json:"per_second"`
	Ratio        float64 `json:"ratio"`
	// RSSBeforeMB is the resident memory when the backlog had been
	// posted; PeakRSSMB the most it reached during the scenario. In
	// process they are the bench's own process (Herald and the bench
	// together); against a target, the server's process_resident_memory
	// from /metrics, sampled.
	RSSBeforeMB float64 `json:"rss_before_mb"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	RSSSource   string  `json:"rss_source"`
}

// percentiles of ds (nanoseconds), nearest rank.
func percentiles(ds []int64) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.5) - 1
		return ms(ds[min(max(i, 0), len(ds)-1)])
	}
	return Percentiles{P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: ms(ds[len(ds)-1])}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	where := r.Server
	if r.Database != "" {
		where += ", " + r.Database
	}
	fmt.Fprintf(w, "herald bench: %s; %d producers; %d CPUs; %s; %.0f s\n\n", where, r.Producers, r.CPUs, r.GoVersion, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t") }
	row("scenario", "figure", "herald", "raw ceiling", "ratio")
	raw := r.Raw
	if raw == nil {
		raw = &Raw{}
	}
	row("raw", fmt.Sprintf("%s signed POSTs/s, median of %d", count(raw.Requests), len(raw.Rounds)), "", rate(raw.PerSecond), "")
	row("", "p50 / p99 ms", "", lat2(raw.Latency), "")
	if x := r.Ingest; x != nil {
		row("ingest", fmt.Sprintf("%s events accepted/s", count(x.Events)), rate(x.PerSecond), rate(raw.PerSecond), times(x.Ratio))
	}
	for _, x := range r.Throughput {
		name := fmt.Sprintf("throughput, fan-out %d", x.Fanout)
		row(name, fmt.Sprintf("%s deliveries/s%s", count(x.Deliveries), incomplete(x.Complete, x.Delivered)), rate(x.PerSecond), rate(raw.PerSecond), times(x.Ratio))
		row("", "events accepted/s", rate(x.AcceptedPerSecond), "", "")
		row("", "p50 / p99 / max ms", lat3(x.Latency), lat2(raw.Latency), "")
	}
	if x := r.Latency; x != nil {
		row("latency", fmt.Sprintf("%d events/s for %.0f s: posted/s%s", x.Rate, x.Seconds, incomplete(x.Complete, x.Delivered)), rate(x.AchievedRate), "", "")
		row("", "p50 / p99 / p99.9 ms", fmt.Sprintf("%s / %s / %s", num(x.Latency.P50), num(x.Latency.P99), num(x.Latency.P999)), lat2(raw.Latency), "")
	}
	if x := r.NoisyNeighbour; x != nil {
		row("noisy-neighbour", fmt.Sprintf("%d healthy alone: p50 / p99 ms%s", x.Healthy, incomplete(x.Alone.Complete, x.Alone.Delivered)), lat2(x.Alone.Latency), "", "")
		row("", fmt.Sprintf("beside %d slow + %d refusing: p50 / p99 ms%s", x.Slow, x.Refused, incomplete(x.Beside.Complete, x.Beside.Delivered)), lat2(x.Beside.Latency), "", times(x.P99Ratio)+" of alone")
	}
	if x := r.FairShare; x != nil {
		row("fair-share", fmt.Sprintf("a tenant's %d healthy alone: p50 / p99 ms%s", x.Healthy, incomplete(x.Alone.Complete, x.Alone.Delivered)), lat2(x.Alone.Latency), "", "")
		row("", fmt.Sprintf("beside a tenant's %d hanging + %d limited to 1/s, %d events: p50 / p99 ms%s", x.Hanging, x.RateLimited, x.Burst, incomplete(x.Beside.Complete, x.Beside.Delivered)), lat2(x.Beside.Latency), "", times(x.P99Ratio)+" of alone")
	}
	if x := r.Failures; x != nil {
		row("failures", fmt.Sprintf("%s events, %.0f%% of attempts 500: delivered", count(x.Events), 100*x.FailRate), count(x.Delivered), "", "")
		row("", "attempts / 500s / duplicates / given up", fmt.Sprintf("%s / %s / %s / %s", count(x.Attempts), count(x.Answered500), count(x.Duplicates), count(x.GivenUp)), "", "")
		row("", "drain after last accepted, s", num(x.DrainSeconds), "", "")
	}
	if x := r.Backlog; x != nil {
		row("backlog", fmt.Sprintf("%s held deliveries drained/s%s", count(x.Deliveries), incomplete(x.Complete, x.Delivered)), rate(x.PerSecond), rate(raw.PerSecond), times(x.Ratio))
		row("", "RSS before / peak MB ("+x.RSSSource+")", fmt.Sprintf("%.0f / %.0f", x.RSSBeforeMB, x.PeakRSSMB), "", "")
	}
	tw.Flush()
}

func incomplete(complete bool, got int) string {
	if complete {
		return ""
	}
	return fmt.Sprintf(" (INCOMPLETE: %s arrived)", count(got))
}

func lat2(p Percentiles) string { return num(p.P50) + " / " + num(p.P99) }
func lat3(p Percentiles) string { return num(p.P50) + " / " + num(p.P99) + " / " + num(p.Max) }

func times(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) + "x" }

func rate(v float64) string { return count(int(v + 0.5)) }

// num prints a time in ms with the precision it deserves.
func num(v float64) string {
	switch {
	case v >= 100:
		return count(int(v + 0.5))
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// count writes n with thousands separators.
var count = humanize.Count
