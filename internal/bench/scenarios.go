package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// retrySchedule is the bench format's: short, so the failures scenario
// drains in seconds, and long enough (11 attempts) that a delivery failing
// 30% of its attempts at random is all but never given up (0.3^11).
var retrySchedule = []string{"100ms", "200ms", "500ms", "1s", "1s", "1s", "1s", "1s", "1s", "1s"}

// runner is one bench run against one server.
type runner struct {
	cfg       *Config
	progress  io.Writer
	runID     string
	api       *client
	base, key string
	inProcess bool
	report    *Report
	format    string
	tenants   []string
}

func (r *runner) logf(f string, args ...any) {
	fmt.Fprintf(r.progress, "bench: "+f+"\n", args...)
}

// setup stores the bench's format: standard-webhooks with the short retry
// schedule, and a 2 minute timeout, so that held requests of the backlog
// scenario are not abandoned while the backlog is posted.
func (r *runner) setup(ctx context.Context) error {
	r.format = r.runID
	return r.api.call(ctx, http.MethodPut, "/api/v1/formats/"+r.format, map[string]any{
		"retry": map[string]any{"schedule": retrySchedule, "on": "non-2xx"}, "timeout": "2m",
	}, nil)
}

// cleanup deletes what the run created: its tenants (with their endpoints,
// events and deliveries), then its format.
func (r *runner) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, t := range r.tenants {
		r.dropTenant(ctx, t)
	}
	if err := r.api.call(ctx, http.MethodDelete, "/api/v1/formats/"+r.format, nil, nil); err != nil {
		r.logf("cleanup: %v", err)
	}
}

func (r *runner) dropTenant(ctx context.Context, t string) {
	if err := r.api.call(ctx, http.MethodDelete, "/api/v1/tenants/"+t, nil, nil); err != nil {
		r.logf("cleanup: %v", err)
	}
	for i, x := range r.tenants {
		if x == t {
			r.tenants = append(r.tenants[:i], r.tenants[i+1:]...)
			break
		}
	}
}

// tenant creates a tenant of this run.
func (r *runner) tenant(ctx context.Context, name string) (string, error) {
	id := r.runID + "-" + name
	if err := r.api.call(ctx, http.MethodPost, "/api/v1/tenants", map[string]string{"id": id, "name": "herald bench " + name}, nil); err != nil {
		return "", err
	}
	r.tenants = append(r.tenants, id)
	return id, nil
}

func (r *runner) endpoint(ctx context.Context, tenant, url string) error {
	return r.endpointWith(ctx, tenant, url, nil)
}

// endpointWith creates an endpoint of tenant with extra fields set.
func (r *runner) endpointWith(ctx context.Context, tenant, url string, extra map[string]any) error {
	body := map[string]any{"url": url, "events": []string{"bench.*"}, "format": r.format}
	for k, v := range extra {
		body[k] = v
	}
	return r.api.call(ctx, http.MethodPost, "/api/v1/tenants/"+tenant+"/endpoints", body, nil)
}

// startReceivers starts n receivers of mode m, each with its recorder of
// events slots, with no endpoints.
func (r *runner) startReceivers(n int, m mode, events int) ([]*receiver, error) {
	var rs []*receiver
	for range n {
		var rec *recorder
		if m != slow {
			rec = newRecorder(events)
		}
		rc, err := startReceiver(m, rec)
		if err != nil {
			closeAll(rs)
			return nil, err
		}
		rs = append(rs, rc)
	}
	return rs, nil
}

// receivers starts n receivers of mode m, each with its recorder of
// events slots, and an endpoint of tenant for each.
func (r *runner) receivers(ctx context.Context, tenant string, n int, m mode, events int) ([]*receiver, error) {
	rs, err := r.startReceivers(n, m, events)
	if err != nil {
		return nil, err
	}
	for _, rc := range rs {
		if err := r.endpoint(ctx, tenant, rc.URL()); err != nil {
			closeAll(rs)
			return nil, err
		}
	}
	return rs, nil
}

func closeAll(rs []*receiver) {
	for _, rc := range rs {
		rc.close()
	}
}

// post runs l, posting event i to tenant for each request, with a line of
// progress every few seconds.
func (r *runner) post(ctx context.Context, label, tenant string, l *load) error {
	stop := r.every(func() string {
		return fmt.Sprintf("%s: %s/%s events posted", label, count(int(l.done.Load())), count(l.n))
	})
	defer stop()
	return l.run(ctx, func(ctx context.Context, i int) error { return r.api.postEvent(ctx, tenant, i) })
}

// wait waits until every recorder of rs has all its events, or
// Config.Timeout has passed; it says whether all arrived.
func (r *runner) wait(ctx context.Context, label string, rs []*receiver) (bool, error) {
	want := 0
	for _, rc := range rs {
		want += int(rc.rec.want)
	}
	got := func() int {
		n := 0
		for _, rc := range rs {
			n += int(rc.rec.got.Load())
		}
		return n
	}
	stop := r.every(func() string { return fmt.Sprintf("%s: %s/%s delivered", label, count(got()), count(want)) })
	defer stop()
	deadline := time.NewTimer(r.cfg.Timeout)
	defer deadline.Stop()
	for _, rc := range rs {
		select {
		case <-rc.rec.done:
		case <-deadline.C:
			r.logf("%s: %s of %s deliveries arrived within %v; going on", label, count(got()), count(want), r.cfg.Timeout)
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}

// every prints line() every 2 seconds until the returned stop is called.
func (r *runner) every(line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.logf("%s", line())
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// arrivals are the end-to-end times of what rs received (arrival minus
// the moment its event's POST was sent), and the last arrival.
func arrivals(l *load, rs []*receiver) (lat []int64, last int64) {
	for _, rc := range rs {
		for i := range rc.rec.arrived {
			if a := rc.rec.arrived[i].Load(); a != 0 {
				lat = append(lat, a-l.sent[i])
				last = max(last, a)
			}
		}
	}
	return lat, last
}

func delivered(rs []*receiver) int {
	n := 0
	for _, rc := range rs {
		n += int(rc.rec.got.Load())
	}
	return n
}

func seconds(from time.Time, toUnixNano int64) float64 {
	return float64(toUnixNano-from.UnixNano()) / 1e9
}

// rawRounds is how many times the ceiling is measured: a few thousand
// POSTs take a fraction of a second, so one pause of the machine moves a
// single measurement a lot; the median of three does not.
const rawRounds = 3

// raw measures the ceiling: Config.Events signed POSTs from the bench's
// sender straight to a receiver like the ones Herald delivers to, at the
// same concurrency as the producers, rawRounds times; the round with the
// median rate is the ceiling.
func (r *runner) raw(ctx context.Context) (*Raw, error) {
	n := r.cfg.Events
	var rounds []*Raw
	for range rawRounds {
		rc, err := startReceiver(healthy, newRecorder(n))
		if err != nil {
			return nil, err
		}
		s := newRawSender(rc.URL(), r.cfg.Producers)
		l := newLoad(n, r.cfg.Producers, 0)
		err = l.run(ctx, s.send)
		rc.close()
		s.http.CloseIdleConnections()
		if err != nil {
			return nil, err
		}
		lat, _ := arrivals(l, []*receiver{rc})
		el := l.end.Sub(l.start).Seconds()
		rounds = append(rounds, &Raw{Requests: n, Seconds: el, PerSecond: float64(n) / el, Latency: percentiles(lat)})
	}
	slices.SortFunc(rounds, func(a, b *Raw) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	med := rounds[len(rounds)/2]
	for _, x := range rounds {
		med.Rounds = append(med.Rounds, x.PerSecond)
	}
	return med, nil
}

// ingest posts Config.IngestEvents to a tenant with no endpoints: the API
// and the commit alone.
func (r *runner) ingest(ctx context.Context) (*Ingest, error) {
	t, err := r.tenant(ctx, "ingest")
	if err != nil {
		return nil, err
	}
	defer r.dropTenant(ctx, t)
	n := r.cfg.IngestEvents
	l := newLoad(n, r.cfg.Producers, 0)
	if err := r.post(ctx, "ingest", t, l); err != nil {
		return nil, err
	}
	el := l.end.Sub(l.start).Seconds()
	x := &Ingest{Events: n, Seconds: el, PerSecond: float64(n) / el}
	x.Ratio = ratio(x.PerSecond, r.report.Raw.PerSecond)
	return x, nil
}

// throughput posts events as fast as the producers can to fanout healthy
// endpoints and times them until the last delivery arrived.
func (r *runner) throughput(ctx context.Context, fanout, events int) (*Throughput, error) {
	label := fmt.Sprintf("throughput fan-out %d", fanout)
	t, err := r.tenant(ctx, fmt.Sprintf("fanout%d", fanout))
	if err != nil {
		return nil, err
	}
	defer r.dropTenant(ctx, t)
	rs, err := r.receivers(ctx, t, fanout, healthy, events)
	if err != nil {
		return nil, err
	}
	defer closeAll(rs)
	l := newLoad(events, r.cfg.Producers, 0)
	if err := r.post(ctx, label, t, l); err != nil {
		return nil, err
	}
	complete, err := r.wait(ctx, label, rs)
	if err != nil {
		return nil, err
	}
	lat, last := arrivals(l, rs)
	x := &Throughput{
		Fanout: fanout, Events: events, Deliveries: fanout * events, Delivered: delivered(rs), Complete: complete,
		AcceptedPerSecond: float64(events) / l.end.Sub(l.start).Seconds(), Latency: percentiles(lat),
	}
	if last > 0 {
		x.Seconds = seconds(l.start, last)
		x.PerSecond = float64(x.Delivered) / x.Seconds
	}
	x.Ratio = ratio(x.PerSecond, r.report.Raw.PerSecond)
	return x, nil
}

// latency posts Config.Rate events a second for Config.Duration to one
// endpoint.
func (r *runner) latency(ctx context.Context) (*Latency, error) {
	t, err := r.tenant(ctx, "latency")
	if err != nil {
		return nil, err
	}
	defer r.dropTenant(ctx, t)
	n := max(int(float64(r.cfg.Rate)*r.cfg.Duration.Seconds()), 1)
	rs, err := r.receivers(ctx, t, 1, healthy, n)
	if err != nil {
		return nil, err
	}
	defer closeAll(rs)
	l := newLoad(n, r.cfg.Producers, float64(r.cfg.Rate))
	if err := r.post(ctx, "latency", t, l); err != nil {
		return nil, err
	}
	complete, err := r.wait(ctx, "latency", rs)
	if err != nil {
		return nil, err
	}
	lat, _ := arrivals(l, rs)
	return &Latency{
		Rate: r.cfg.Rate, Seconds: r.cfg.Duration.Seconds(), Events: n, Delivered: delivered(rs), Complete: complete,
		AchievedRate: float64(n) / l.end.Sub(l.start).Seconds(), Latency: percentiles(lat),
	}, nil
}

// noisy runs the same paced load to 10 healthy endpoints twice: alone, and
// beside 2 endpoints that answer after 10 s and 2 that refuse connections.
func (r *runner) noisy(ctx context.Context) (*Noisy, error) {
	x := &Noisy{Healthy: 10, Slow: 2, Refused: 2, Rate: r.cfg.NoisyRate, Seconds: r.cfg.NoisyDuration.Seconds()}
	var err error
	if x.Alone, err = r.noisyRun(ctx, "noisy-alone", x.Healthy, 0, 0); err != nil {
		return nil, err
	}
	if x.Beside, err = r.noisyRun(ctx, "noisy-beside", x.Healthy, x.Slow, x.Refused); err != nil {
		return nil, err
	}
	x.P99Ratio = ratio(x.Beside.Latency.P99, x.Alone.Latency.P99)
	return x, nil
}

func (r *runner) noisyRun(ctx context.Context, name string, healthyN, slowN, refusedN int) (NoisyRun, error) {
	var run NoisyRun
	t, err := r.tenant(ctx, name)
	if err != nil {
		return run, err
	}
	// At the end the receivers close first (the slow ones answer what they
	// hold at once), then dropping the tenant ends the bad endpoints'
	// queues, so nothing of this run weighs on the next scenario.
	defer r.dropTenant(ctx, t)
	n := r.pacedEvents()
	rs, err := r.receivers(ctx, t, healthyN, healthy, n)
	if err != nil {
		return run, err
	}
	defer closeAll(rs)
	bad, err := r.receivers(ctx, t, slowN, slow, n)
	if err != nil {
		return run, err
	}
	defer closeAll(bad)
	for range refusedN {
		u, err := refusedURL()
		if err != nil {
			return run, err
		}
		if err := r.endpoint(ctx, t, u); err != nil {
			return run, err
		}
	}
	return r.paced(ctx, name, t, n, rs)
}

// pacedEvents is how many events one paced run (noisy-neighbour,
// fair-share) posts: NoisyRate a second for NoisyDuration.
func (r *runner) pacedEvents() int {
	return max(int(float64(r.cfg.NoisyRate)*r.cfg.NoisyDuration.Seconds()), 1)
}

// paced posts n events to tenant at NoisyRate, waits for rs to have them
// all, and times them from each POST to its arrival.
func (r *runner) paced(ctx context.Context, name, tenant string, n int, rs []*receiver) (NoisyRun, error) {
	l := newLoad(n, r.cfg.Producers, float64(r.cfg.NoisyRate))
	if err := r.post(ctx, name, tenant, l); err != nil {
		return NoisyRun{}, err
	}
	complete, err := r.wait(ctx, name, rs)
	if err != nil {
		return NoisyRun{}, err
	}
	lat, _ := arrivals(l, rs)
	return NoisyRun{Deliveries: len(rs) * n, Delivered: delivered(rs), Complete: complete, Latency: percentiles(lat)}, nil
}

// The abusing tenant of the fair-share scenario: enough hanging endpoints
// to hold every worker of a node with the default per-endpoint cap were
// there no share per tenant, and rate-limited ones whose deliveries wait
// for their turns.
const (
	fairHealthy     = 2
	fairHanging     = 10
	fairRateLimited = 4
	fairMaxBurst    = 100
)

// fairBurst is how many events the abusing tenant posts first: as many as
// the other tenant's run posts, at least 20 and at most fairMaxBurst.
func (r *runner) fairBurst() int {
	return min(max(r.pacedEvents(), 20), fairMaxBurst)
}

// fairShare runs one tenant's paced load to its healthy endpoints twice:
// alone, and after another tenant posted a burst to endpoints that hang and
// endpoints limited to one attempt a second (issue 12: a tenant key alone
// once stalled every other tenant for tens of seconds).
func (r *runner) fairShare(ctx context.Context) (*FairShare, error) {
	x := &FairShare{
		Healthy: fairHealthy, Hanging: fairHanging, RateLimited: fairRateLimited, Burst: r.fairBurst(),
		Rate: r.cfg.NoisyRate, Seconds: r.cfg.NoisyDuration.Seconds(),
	}
	var err error
	if x.Alone, err = r.fairRun(ctx, "fair-alone", false); err != nil {
		return nil, err
	}
	if x.Beside, err = r.fairRun(ctx, "fair-beside", true); err != nil {
		return nil, err
	}
	x.P99Ratio = ratio(x.Beside.Latency.P99, x.Alone.Latency.P99)
	return x, nil
}

func (r *runner) fairRun(ctx context.Context, name string, abuse bool) (NoisyRun, error) {
	var run NoisyRun
	if abuse {
		t, err := r.tenant(ctx, name+"-abuser")
		if err != nil {
			return run, err
		}
		defer r.dropTenant(ctx, t)
		burst := r.fairBurst()
		bad, err := r.receivers(ctx, t, fairHanging, slow, burst)
		if err != nil {
			return run, err
		}
		defer closeAll(bad)
		limited, err := r.startReceivers(fairRateLimited, healthy, burst)
		if err != nil {
			return run, err
		}
		defer closeAll(limited)
		for _, rc := range limited {
			if err := r.endpointWith(ctx, t, rc.URL(), map[string]any{"rate_limit": 1}); err != nil {
				return run, err
			}
		}
		if err := r.post(ctx, name+"-abuser", t, newLoad(burst, r.cfg.Producers, 0)); err != nil {
			return run, err
		}
	}
	t, err := r.tenant(ctx, name)
	if err != nil {
		return run, err
	}
	defer r.dropTenant(ctx, t)
	n := r.pacedEvents()
	rs, err := r.receivers(ctx, t, fairHealthy, healthy, n)
	if err != nil {
		return run, err
	}
	defer closeAll(rs)
	return r.paced(ctx, name, t, n, rs)
}

// failures posts Config.FailureEvents to a receiver that answers 500 to
// 30% of attempts at random, and waits for every one to be delivered.
func (r *runner) failures(ctx context.Context) (*Failures, error) {
	t, err := r.tenant(ctx, "failures")
	if err != nil {
		return nil, err
	}
	defer r.dropTenant(ctx, t)
	n := r.cfg.FailureEvents
	rs, err := r.receivers(ctx, t, 1, flaky, n)
	if err != nil {
		return nil, err
	}
	defer closeAll(rs)
	l := newLoad(n, r.cfg.Producers, 0)
	if err := r.post(ctx, "failures", t, l); err != nil {
		return nil, err
	}
	complete, err := r.wait(ctx, "failures", rs)
	if err != nil {
		return nil, err
	}
	givenUp, err := r.givenUp(ctx, t)
	if err != nil {
		return nil, err
	}
	_, last := arrivals(l, rs)
	rc := rs[0]
	x := &Failures{
		Events: n, FailRate: rc.failRate, Delivered: delivered(rs), Complete: complete,
		Attempts: int(rc.attempts.Load()), Answered500: int(rc.failed.Load()), Duplicates: int(rc.rec.dups.Load()),
		GivenUp: givenUp,
	}
	if last > 0 {
		x.Seconds = seconds(l.start, last)
		x.DrainSeconds = max(seconds(l.end, last), 0)
	}
	return x, nil
}

// givenUp counts the tenant's deliveries that Herald failed, as its API
// lists them (at most a page: more than 100 in a run would say enough).
func (r *runner) givenUp(ctx context.Context, tenant string) (int, error) {
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := r.api.call(ctx, http.MethodGet, "/api/v1/tenants/"+url.PathEscape(tenant)+"/deliveries?status=failed&limit=100", nil, &page); err != nil {
		return 0, err
	}
	return len(page.Data), nil
}

// backlogEndpoints share the backlog, so that the drain is bounded by the
// server rather than by one endpoint's in-flight cap.
const backlogEndpoints = 10

// backlog holds Config.Backlog deliveries back (their receivers hold every
// request until released, so all but the few in flight wait in the
// database), then releases them and times the drain.
func (r *runner) backlog(ctx context.Context) (*Backlog, error) {
	t, err := r.tenant(ctx, "backlog")
	if err != nil {
		return nil, err
	}
	defer r.dropTenant(ctx, t)
	events := max((r.cfg.Backlog+backlogEndpoints-1)/backlogEndpoints, 1)
	rs, err := r.receivers(ctx, t, backlogEndpoints, hold, events)
	if err != nil {
		return nil, err
	}
	defer closeAll(rs)
	rss := r.rssMeter(ctx)
	defer rss.stop()
	l := newLoad(events, r.cfg.Producers, 0)
	if err := r.post(ctx, "backlog", t, l); err != nil {
		return nil, err
	}
	x := &Backlog{Deliveries: events * backlogEndpoints, Endpoints: backlogEndpoints, RSSSource: rss.source}
	x.RSSBeforeMB = rss.now()
	released := time.Now()
	for _, rc := range rs {
		rc.Release()
	}
	complete, err := r.wait(ctx, "backlog", rs)
	if err != nil {
		return nil, err
	}
	_, last := arrivals(l, rs)
	x.Delivered, x.Complete = delivered(rs), complete
	if last > 0 {
		x.DrainSeconds = seconds(released, last)
		x.PerSecond = float64(x.Delivered) / x.DrainSeconds
	}
	x.Ratio = ratio(x.PerSecond, r.report.Raw.PerSecond)
	x.PeakRSSMB = rss.peak()
	return x, nil
}

// rssMeter reads resident memory: in process from /proc/self (the peak
// reset at the start, where the kernel allows it), against a target from
// its /metrics, sampled every 100 ms.
type rssMeter struct {
	source string
	now    func() float64
	peak   func() float64
	stop   func()
}

func (r *runner) rssMeter(ctx context.Context) *rssMeter {
	if r.inProcess {
		m := &rssMeter{source: "bench process, VmHWM", stop: func() {}}
		if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) != nil {
			m.source = "bench process, VmHWM since start"
		}
		m.now = func() float64 { return procStatusMB("VmRSS") }
		m.peak = func() float64 { return procStatusMB("VmHWM") }
		return m
	}
	var (
		mu   sync.Mutex
		peak float64
	)
	sample := func() float64 {
		v := r.metricsRSS(ctx)
		mu.Lock()
		peak = max(peak, v)
		mu.Unlock()
		return v
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sample()
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return &rssMeter{
		source: "server /metrics, sampled",
		now:    sample,
		peak:   func() float64 { sample(); mu.Lock(); defer mu.Unlock(); return peak },
		stop:   func() { once.Do(func() { close(done); wg.Wait() }) },
	}
}

// procStatusMB reads a kB line of /proc/self/status, in MB; 0 where there
// is none (not Linux).
func procStatusMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}

// metricsRSS is the target's process_resident_memory_bytes, in MB; 0 when
// /metrics does not say.
func (r *runner) metricsRSS(ctx context.Context) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api.base+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := r.api.http.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			return f / (1 << 20)
		}
	}
	return 0
}
