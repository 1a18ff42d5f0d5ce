package delivery

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// maxResponseBody is how much of a receiver's answer an attempt keeps.
const maxResponseBody = 4 << 10

// OwnLeaseFactor is how many times an endpoint's cap a node's claims and
// hand-offs lease of it while it is eager (its attempts from this node
// are being delivered quickly: dispatcher.eagerIDs), no other node holds
// a lease of it and its tenant holds fewer than half its leases
// (store.LeaseCap): the node still sends no more than the cap at once,
// and the rest wait in its dispatcher, already leased, so an endpoint's
// next attempt goes out when one ends instead of after a claim
// (docs/design.md).
const OwnLeaseFactor = 4

// DefaultWorkers is how many attempts a node sends at once unless --workers
// says otherwise: attempts mostly wait on the network, so a node keeps many
// in flight (docs/delivery.md).
const DefaultWorkers = 128

// DefaultMaxRenderedBody is twice the API's default event limit (1 MiB).
const DefaultMaxRenderedBody = 2 << 20

// DefaultPerEndpoint is the server's cap on attempts in flight to one
// endpoint, across all nodes, unless --per-endpoint says otherwise.
const DefaultPerEndpoint = 16

// Config configures an Engine. Zero values take the defaults in NewEngine.
type Config struct {
	Store   store.Store
	Formats *catalog.Catalog
	Client  *http.Client
	Logger  *slog.Logger
	Metrics *Metrics
	// Clock is the engine's time: every moment it records, every wait (the
	// poll, the heartbeat, retries coming due, rate limits, the shutdown
	// grace). Default: the wall clock. The HTTP request's own timeout runs
	// on the wall clock whatever this is.
	Clock clock.Clock

	// Workers is how many attempts may be in flight on this node.
	Workers int
	// Prefetch is how many deliveries beyond Workers the engine claims
	// ahead, so a worker that finishes finds the next one in memory rather
	// than waiting for a claim. Default: three times Workers.
	Prefetch int
	// BatchSize caps the attempts recorded in one transaction. Default 256.
	BatchSize int
	// BatchWait is how long a finished attempt may wait for others to
	// share its record's transaction while attempts are still being sent;
	// with none being sent it is recorded at once. Default 2ms.
	BatchWait time.Duration
	// PerEndpoint caps in-flight attempts per endpoint across all nodes.
	PerEndpoint int
	// MaxRenderedBody caps the body a format renders for a delivery: past
	// it the delivery fails at once. Default: DefaultMaxRenderedBody.
	MaxRenderedBody int64
	// PerTenant is one tenant's fair share: the most attempts of one tenant
	// this node sends at once, so the others always have workers however
	// many endpoints of one tenant hang or wait. Its deliveries also hold
	// at most the same share of a node's room in leases across all nodes
	// (tenantLeases: four times PerTenant by default; sent, or waiting for
	// a worker; this node's settling ones, whose records alone wait, are
	// not counted), so one tenant's rate-limited or backlogged endpoints
	// cannot fill a node's room either. Claims and the dispatcher go round
	// the tenants with work. Default: three quarters of Workers.
	PerTenant int
	// Lease is how long a claimed delivery stays ours without a heartbeat.
	// In-flight leases are extended every Lease/3, so a live engine keeps
	// its deliveries however long the format's timeout, and a crashed
	// engine's deliveries are taken again by another within Lease.
	Lease time.Duration
	// ClaimGap is the least time from a claim that came back short (it
	// took all it could) to the next one: store.ClaimGap of the store.
	// 0: none.
	ClaimGap time.Duration
	// ClaimProbe lets a claim after one that found nothing probe for room
	// first (store.DeliveryClaimParams.Probe): store.ClaimProbe of the
	// store.
	ClaimProbe bool
	// PollInterval is the fallback wake-up when no notification comes.
	PollInterval time.Duration
	// ShutdownGrace is how long in-flight attempts may run on after Run's
	// context ends before they are cut off and handed back.
	ShutdownGrace time.Duration
	// TracerProvider makes a client span of every attempt, in the trace of
	// the attempt's event; nil or a no-op provider means no tracing.
	TracerProvider trace.TracerProvider
	// NoticeWindow is the least time between two failure notices of one
	// tenant and failure event type, at first; while failures keep
	// coming it doubles, up to NoticeWindowMax, and a window without any
	// starts it again. Defaults: DefaultNoticeWindow, DefaultNoticeWindowMax.
	NoticeWindow    time.Duration
	NoticeWindowMax time.Duration
	// TestWait is how long a test send waits for room within its
	// endpoint's cap and its tenant's share before it is refused
	// (herald.ErrBusy). Default: DefaultTestWait.
	TestWait time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed for
	// longer than this (--disable-after); 0 never does. A 410 answer
	// disables it at once whatever this is.
	DisableAfter time.Duration
}

// DefaultTestWait is how long a test send waits for room unless
// Config.TestWait says otherwise: long enough for one of a busy endpoint's
// attempts to end, short enough to answer a person at once.
const DefaultTestWait = 2 * time.Second

// Engine claims due deliveries, sends them and records every attempt.
type Engine struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	clock  clock.Clock
	now    func() time.Time // clock.Now
	owner  string           // identifies this engine in leases: host-pid-random
	tracer trace.Tracer     // nil: tracing is off

	inflightMu sync.Mutex
	inflight   map[string]struct{} // deliveries this engine is attempting

	handMu sync.Mutex
	hand   *handOff    // set while Run's fetcher runs
	disp   *dispatcher // set while Run's dispatcher takes work
	fetch  *fetcher    // set while Run runs: told of retries and hand-backs (dueAt)

	started chan struct{} // closed once Run's dispatcher is set
	notices *notices      // failure notices, raised while Run runs
}

// NewEngine wires an engine; it does no I/O.
func NewEngine(cfg Config) *Engine {
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.Prefetch = cmp.Or(cfg.Prefetch, 3*cfg.Workers)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 256)
	cfg.BatchWait = cmp.Or(cfg.BatchWait, 2*time.Millisecond)
	cfg.PerEndpoint = cmp.Or(cfg.PerEndpoint, DefaultPerEndpoint)
	cfg.MaxRenderedBody = cmp.Or(cfg.MaxRenderedBody, DefaultMaxRenderedBody)
	cfg.PerTenant = cmp.Or(cfg.PerTenant, max(1, cfg.Workers*3/4))
	cfg.Lease = max(cmp.Or(cfg.Lease, 30*time.Second), 3*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 5*time.Second)
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, 10*time.Second)
	cfg.TestWait = cmp.Or(cfg.TestWait, DefaultTestWait)
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(ClientConfig{Workers: cfg.Workers})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.Or(cfg.Clock)
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = crand.Read(b[:])
	return &Engine{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, clock: cfg.Clock, now: cfg.Clock.Now,
		owner:    fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		tracer:   newTracer(cfg.TracerProvider),
		inflight: map[string]struct{}{},
		started:  make(chan struct{}),
		notices:  newNotices(cfg.Store, cfg.Clock, cfg.Logger, cfg.NoticeWindow, cfg.NoticeWindowMax),
	}
}

// Run claims and sends deliveries until ctx ends, then stops claiming, lets
// in-flight attempts finish for up to ShutdownGrace, hands back the ones
// still running or not yet started, records what was attempted, and
// returns. It is three parts (docs/delivery.md): a fetcher that claims, a
// dispatcher that sends on a pool of workers, and a completer that records
// the attempts in batches.
func (e *Engine) Run(ctx context.Context) error {
	wake, err := e.st.Listen(ctx)
	if err != nil {
		return fmt.Errorf("listen for new deliveries: %w", err)
	}
	// Attempts run on their own context, so a shutdown can let them finish;
	// the heartbeat and the records outlive them both.
	bg := context.WithoutCancel(ctx)
	sendCtx, cutOff := context.WithCancel(bg)
	defer cutOff()
	beatCtx, stopBeat := context.WithCancel(bg)
	defer stopBeat()
	// The heartbeat's timer is set before the first claim, so every lease
	// this engine takes is extended on time.
	go e.heartbeat(beatCtx, e.clock.NewTimer(e.cfg.Lease/3))

	var disp *dispatcher
	comp := newCompleter(&completer{
		st: e.st, record: e.record, clock: e.clock, log: e.log,
		maxBatch: e.cfg.BatchSize, wait: e.cfg.BatchWait,
		busy: func() bool { return disp.busy() },
	})
	disp = newDispatcher(&dispatcher{
		ctx: sendCtx, clock: e.clock,
		workers: e.cfg.Workers, perEndpoint: e.cfg.PerEndpoint, perTenant: e.cfg.PerTenant, capacity: e.cfg.Workers + e.cfg.Prefetch,
		run: func(ctx context.Context, c *store.Claimed, settled func()) ended {
			// A test delivery claimed again (its node died mid-send) is
			// still a test: sent once, never retried.
			s := onSchedule
			if c.Event.Source == store.SourceTest {
				s = onlyOnce
			}
			return e.attempt(ctx, c, s, comp.add, func(*store.Attempt) {
				e.untrack(c.Delivery.ID)
				settled()
			})
		},
		release: func(ctx context.Context, c *store.Claimed) {
			if err := e.st.DeliveryRelease(ctx, c.Delivery.ID, e.owner, e.now()); err != nil {
				e.log.Warn("hand back delivery", "err", err, "delivery", c.Delivery.ID)
			}
			e.untrack(c.Delivery.ID)
		},
		sent: func(n int) {
			e.cfg.Metrics.setInflight(n)
			if n == 0 {
				comp.nudge()
			}
		},
	})
	f := &fetcher{
		st: e.st, clock: e.clock, log: e.log, owner: e.owner,
		lease: e.cfg.Lease, perEndpoint: e.cfg.PerEndpoint, perTenant: e.tenantLeases(), poll: e.cfg.PollInterval,
		batch: max(1, (e.cfg.Workers+e.cfg.Prefetch)/8), gap: e.cfg.ClaimGap, probes: e.cfg.ClaimProbe,
		wake: wake, free: disp.free, queued: disp.queuedCount, freed: disp.freed, settling: disp.settlingIDs, eager: disp.eagerIDs,
		push: func(cs []*store.Claimed) {
			for _, c := range cs {
				e.track(c.Delivery.ID)
			}
			disp.push(cs)
		},
		soon: make(chan struct{}, 1),
	}

	// Ingest on this node may hand deliveries straight to the dispatcher
	// while the fetcher runs (HandOff), and test sends take their places
	// beside the workers'.
	e.handMu.Lock()
	e.hand, e.disp, e.fetch = &handOff{free: disp.free, settling: disp.settlingIDs, eager: disp.eagerIDs, push: f.push, active: disp.activeByEndpoint}, disp, f
	select {
	case <-e.started:
	default:
		close(e.started)
	}
	e.handMu.Unlock()
	defer func() {
		e.handMu.Lock()
		e.hand, e.disp, e.fetch = nil, nil, nil
		e.handMu.Unlock()
	}()

	// Failure notices are raised on their own goroutine, off the
	// completer's, until every attempt has been recorded.
	noticesCtx, stopNotices := context.WithCancel(bg)
	defer stopNotices()
	noticesDone := make(chan struct{})
	go func() { e.notices.run(noticesCtx); close(noticesDone) }()

	completed := make(chan struct{})
	go func() { comp.run(bg); close(completed) }()
	turnsCtx, stopTurns := context.WithCancel(bg)
	defer stopTurns()
	go disp.turns(turnsCtx)

	f.run(ctx)
	e.handMu.Lock()
	e.hand, e.disp = nil, nil // no more hand-offs: what comes now waits for a claim; no more test sends
	e.handMu.Unlock()
	if disp.stop(e.cfg.ShutdownGrace, cutOff) {
		e.log.Warn("shutdown grace over, handed back in-flight deliveries")
	}
	// Every attempt has been handed to the completer or back to the store:
	// write the last batch, then raise the notices of its failures.
	comp.close()
	<-completed
	stopNotices()
	<-noticesDone
	return nil
}

// handOff is how ingest reaches a running engine's dispatcher.
type handOff struct {
	free     func() int
	settling func() []string
	eager    func() []string
	push     func(cs []*store.Claimed)
	active   func() map[string]int
}

// HandOffRoom is how many new deliveries this engine can take straight
// from ingest, and the lease they get (store.HandOff): its free room, none
// when it is not running. Ingest leases them in its own transaction, so
// they reach a worker without a claim.
func (e *Engine) HandOffRoom() store.HandOff {
	e.handMu.Lock()
	h := e.hand
	e.handMu.Unlock()
	if h == nil {
		return store.HandOff{}
	}
	return store.HandOff{Owner: e.owner, Until: e.now().Add(e.cfg.Lease), Limit: h.free(), PerEndpoint: e.cfg.PerEndpoint, PerTenant: e.tenantLeases(), Settling: h.settling(), OwnFactor: OwnLeaseFactor, Eager: h.eager(), Active: h.active()}
}

// tenantLeases is the most leases one tenant's deliveries hold across all
// nodes: its share of the workers (Config.PerTenant) as a share of the
// node's room, Workers+Prefetch (four times PerTenant by default). Twice
// PerTenant, with room for twice the workers, bounded a backlogged
// tenant's claims at 192 deliveries and fan-out 10's hand-offs with them;
// with room for four times the workers and this, PostgreSQL's backlog
// drained 17% faster and fan-out 10 ran 15% faster (docs/design.md).
func (e *Engine) tenantLeases() int {
	n := int64(e.cfg.PerTenant) * int64(e.cfg.Workers+e.cfg.Prefetch) / int64(e.cfg.Workers)
	return int(min(n, math.MaxInt32))
}

// HandOff takes deliveries an ingest transaction leased to this engine
// and committed. One that stopped meanwhile leaves them to their lease:
// they are claimed again when it runs out. held says the transaction left
// others pending that wait for room at endpoints whose leases are all this
// engine's (store.HandOff.Held): no other node was woken for them, so the
// fetcher takes them as due now, and claims them as attempts end.
func (e *Engine) HandOff(cs []*store.Claimed, held bool) {
	e.handMu.Lock()
	h := e.hand
	e.handMu.Unlock()
	if h != nil && len(cs) > 0 {
		h.push(cs)
	}
	if held {
		e.dueAt(e.now(), true)
	}
}

// heartbeat extends the leases of the attempts in flight each time beat
// fires, every third of the lease, until ctx ends.
func (e *Engine) heartbeat(ctx context.Context, beat clock.Timer) {
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C():
		}
		// Set the next beat before this one's database write, so a slow
		// write does not push every later beat back.
		beat.Reset(e.cfg.Lease / 3)
		e.extendLeases(ctx)
	}
}

// extendLeases moves the leases of the attempts in flight to Lease from now.
func (e *Engine) extendLeases(ctx context.Context) {
	e.inflightMu.Lock()
	ids := make([]string, 0, len(e.inflight))
	for id := range e.inflight {
		ids = append(ids, id)
	}
	e.inflightMu.Unlock()
	if len(ids) == 0 {
		return
	}
	if _, err := e.st.DeliveryExtendLeases(ctx, e.owner, ids, e.now().Add(e.cfg.Lease)); err != nil && ctx.Err() == nil {
		// The attempts go on; if a lease runs out meanwhile, another
		// engine may send again (at least once) and our record is fenced.
		e.log.Warn("extend leases", "err", err, "deliveries", len(ids))
	}
}

// track puts a delivery under the heartbeat, from its claim until it is
// settled: while it waits for a worker or its rate limit turn, while it is
// sent, and while its attempt waits for its batch to be recorded.
func (e *Engine) track(id string) {
	e.inflightMu.Lock()
	e.inflight[id] = struct{}{}
	e.inflightMu.Unlock()
}

// untrack takes a settled delivery from under the heartbeat.
func (e *Engine) untrack(id string) {
	e.inflightMu.Lock()
	delete(e.inflight, id)
	e.inflightMu.Unlock()
}

// series says whether an attempt's failure may be retried.
type series int

const (
	// onSchedule: a failure the format retries is tried again on the
	// format's schedule while the schedule lasts.
	onSchedule series = iota
	// onlyOnce: the attempt is the delivery's only one (a test send); it
	// ends delivered or failed.
	onlyOnce
)

// try is one attempt at a claimed delivery, as it goes: what it is sent
// with, and once made, what it came to.
type try struct {
	c      *store.Claimed
	series series
	log    *slog.Logger
	f      *format.Format // nil when the endpoint's format no longer exists
	body   []byte         // the bytes sent, nil when none were
	out    *outcome       // what the request came to
	ended  time.Time      // when the outcome was known
}

// attempt makes one attempt of a claimed delivery and hands what it came
// to to complete, which records it, now or in a batch. settled is called
// once the delivery has left this engine's hands: with the attempt as
// recorded (or as made, when it could not be), or with nil when the
// delivery was handed back unattempted (shutdown, the database not
// answering). The endpoint's rate limit is the caller's to keep.
func (e *Engine) attempt(ctx context.Context, c *store.Claimed, s series, complete func(*completion), settled func(*store.Attempt)) ended {
	d, ep, ev := c.Delivery, c.Endpoint, c.Event
	a := &try{c: c, series: s, log: e.log.With("delivery", d.ID, "endpoint", ep.ID, "tenant", d.TenantID)}
	ctx, span := e.startSpan(ctx, c)
	bg := context.WithoutCancel(ctx)
	handBack := func(next time.Time) {
		e.releaseAt(bg, a, next)
		span.End()
		settled(nil)
	}

	f, err := e.cfg.Formats.Get(ctx, ep.Format)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.out = &outcome{err: fmt.Sprintf("format %q no longer exists", ep.Format), final: true}
		return endedBy(e.finish(bg, a, span, complete, settled))
	case err != nil && s == onlyOnce:
		// A test send ends with its request: never queued for later.
		a.log.Warn("load format", "err", err)
		a.out = &outcome{err: fmt.Sprintf("format %q could not be read: the database did not answer", ep.Format), final: true}
		return endedBy(e.finish(bg, a, span, complete, settled))
	case err != nil:
		// The database is not answering: hand the delivery back for later
		// rather than count a failure that is not the receiver's.
		a.log.Warn("load format", "err", err)
		handBack(e.now().Add(e.cfg.PollInterval))
		return untried
	}
	a.f = f
	in, err := format.NewInput(formatEvent(ev), d.ID, ep.ID)
	if err != nil {
		a.out = &outcome{err: err.Error(), final: true}
		return endedBy(e.finish(bg, a, span, complete, settled))
	}
	body := c.Body
	if body == nil {
		body = f.RenderBody(in)
		if int64(len(body)) > e.cfg.MaxRenderedBody {
			// A format that repeats the event's data many times would
			// send (and store) many times its size on every attempt: no
			// retry can mend it.
			a.out = &outcome{err: fmt.Sprintf("the rendered body is %d bytes, past the limit of %d (twice the largest event the API accepts)",
				len(body), e.cfg.MaxRenderedBody), final: true}
			return endedBy(e.finish(bg, a, span, complete, settled))
		}
	}

	started := e.now()
	in.Timestamp, in.Attempt = started, d.Attempts+1
	in.Traceparent = traceparent(ctx, ev.TraceID)
	out := e.send(ctx, f, c, in, body)
	switch {
	case ctx.Err() != nil && out.code == 0 && s == onlyOnce:
		// The test send's caller went away: the attempt ended with its
		// request, and the delivery ends with it, failed, rather than
		// being handed back to be sent again as an ordinary delivery.
		out.err, out.final = "cancelled: the test send's request ended before the receiver answered", true
	case ctx.Err() != nil && out.code == 0:
		// Cut off by shutdown: this was not the receiver's failure.
		handBack(e.now())
		return untried
	}
	a.body, a.out = body, out
	return endedBy(e.finish(bg, a, span, complete, settled))
}

// endedBy is how an attempt that left its delivery in status ended.
func endedBy(status string) ended {
	if status == store.StatusDelivered {
		return delivered
	}
	return failed
}

// outcome is what one HTTP request came to.
type outcome struct {
	started    time.Time
	duration   time.Duration
	code       int
	body       string
	err        string // what the attempt stores, and tenants see
	kind       string // the span's error.type when the request had no answer (cause.kind)
	detail     string // the error's own text, for the attempt's log line only
	retryAfter time.Duration
	final      bool // a failure no retry can mend
}

// send makes the attempt's one HTTP request: the endpoint's format signs
// body (already rendered, once per attempt) and the request goes out on
// the client's kept-alive connections; the answer's status decides, and at
// most maxResponseBody of its body is kept, read within responseWait.
func (e *Engine) send(ctx context.Context, f *format.Format, c *store.Claimed, in *format.Input, body []byte) *outcome {
	ep, started := c.Endpoint, in.Timestamp
	out := &outcome{started: started}

	reqCtx, cancel := context.WithTimeout(ctx, f.Timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		out.err, out.kind, out.detail = "bad endpoint URL", "endpoint_url", err.Error()
		out.final = true
		return out
	}
	msg, err := f.Render(in, &format.RenderParams{Body: body, Headers: ep.Headers, Secrets: e.secrets(f, ep)})
	if err != nil {
		// The endpoint's secret does not suit its format's scheme (the
		// format was changed under it): no retry can succeed.
		out.err = err.Error()
		out.final = true
		return out
	}
	req.Header = msg.Header

	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		out.duration = e.now().Sub(started)
		c := classify(reqCtx, err, f.Timeout())
		out.err, out.kind, out.detail = c.text, c.kind, err.Error()
		if refusedDestination(err) {
			e.cfg.Metrics.refusedDestination()
		}
		return out
	}
	out.code = resp.StatusCode
	out.body, err = readAnswer(resp, cancel)
	out.duration = e.now().Sub(started)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		// Cut off after responseWait, or by shutdown, while the body was
		// read: the status is the answer, and the body what came in time.
	default:
		c := classify(reqCtx, err, f.Timeout())
		out.err, out.kind, out.detail = "reading response: "+c.text, kindResponse, err.Error()
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), e.now())
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && out.err == "" {
		out.err = "redirects are not followed: " + resp.Header.Get("Location")
	}
	return out
}

// responseWait bounds the reading of an answer's body once its status line
// and headers have come. The status decides the attempt and the body is
// only kept for the log, so a receiver that answers 200 and then lets its
// body drip cannot hold the attempt, and its worker, for the whole timeout.
// It runs on the wall clock, as the request's timeout does.
const responseWait = time.Second

// maxDrain is how much of an answer beyond what is kept is read and thrown
// away, so that the connection can go back to the pool; the connection of
// a longer answer is closed instead.
const maxDrain = 64 << 10

// answerBufs are the buffers answers are read into, maxResponseBody each,
// reused: reading an answer allocates only the text it keeps.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, maxResponseBody); return &b }}

// readAnswer reads the first maxResponseBody bytes of resp's body, which it
// returns, and drains up to maxDrain more, within responseWait of being
// called; then it closes the body. When responseWait runs out first it
// calls cut, which must end the request (its context's cancel), and
// returns what had come with the read's error, context.Canceled. An error
// while draining is not reported: what is kept was read whole.
func readAnswer(resp *http.Response, cut context.CancelFunc) (string, error) {
	defer resp.Body.Close()
	if resp.ContentLength == 0 {
		return "", nil // 204, or Content-Length: 0: nothing to wait for
	}
	timer := time.AfterFunc(responseWait, cut)
	defer timer.Stop()
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	buf := *bp
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = resp.Body.Read(buf[n:])
		n += m
	}
	kept := string(buf[:n])
	if err != nil {
		if err == io.EOF {
			err = nil
		}
		return kept, err
	}
	for drained := 0; drained < maxDrain; {
		m, err := resp.Body.Read(buf)
		drained += m
		if err != nil {
			break
		}
	}
	return kept, nil
}

// secrets lists the signing secrets, newest first: every secret replaced
// by a rotation still signs during its own grace period where the scheme
// has room.
func (e *Engine) secrets(f *format.Format, ep *store.Endpoint) []string {
	if !f.SupportsRotationGrace() {
		return []string{ep.Secret}
	}
	return ep.SigningSecrets(e.now())
}

// formatEvent is what the format's templates see of a stored event.
func formatEvent(ev *store.Event) *format.Event {
	return &format.Event{
		TenantID: ev.TenantID, ID: ev.ID, Type: ev.Type, Data: ev.Data,
		TraceID: ev.TraceID, CreatedAt: ev.CreatedAt,
	}
}

// finish hands what an attempt came to to complete and, once it is
// recorded, acts on it: the delivery is delivered, due again later, or
// failed, and a failure raises the format's failure event. The attempt's
// span ends then, so it says whether the record was made.
func (e *Engine) finish(ctx context.Context, a *try, span trace.Span, complete func(*completion), settled func(*store.Attempt)) (status string) {
	a.ended = e.now()
	if a.out.started.IsZero() {
		a.out.started = a.ended
	}
	status, next := a.decide()
	d, out := a.c.Delivery, a.out
	att := &store.Attempt{
		ID: id.NewAt(id.Attempt, out.started), DeliveryID: d.ID, Number: d.Attempts + 1,
		StartedAt: out.started, DurationMS: out.duration.Milliseconds(),
		ResponseCode: out.code, ResponseBody: out.body, Error: out.err,
	}
	complete(&completion{
		p: &store.AttemptRecordParams{
			DeliveryID: d.ID, Owner: e.owner, Attempt: att, Body: a.body,
			Status: status, NextAttemptAt: next, Now: a.ended,
			DisableAfter: e.cfg.DisableAfter, TraceID: a.c.Event.TraceID,
		},
		done: func(rec *store.Attempt, err error) {
			defer span.End()
			if err == nil && status == store.StatusRetrying && next != nil {
				e.dueAt(*next, false) // committed: the fetcher claims it when it comes due
			}
			if e.recorded(ctx, a, status, err) {
				// The one line of every attempt's outcome: ids, status and
				// what the receiver answered, never the request, its
				// signatures, the endpoint's secret or headers, or a body.
				// A delivery that failed for good is a warning.
				level := slog.LevelInfo
				if status == store.StatusFailed {
					level = slog.LevelWarn
				}
				if e.log.Enabled(ctx, level) {
					attrs := []slog.Attr{
						slog.String("tenant_id", d.TenantID), slog.String("endpoint_id", d.EndpointID),
						slog.String("delivery_id", d.ID), slog.String("event_id", d.EventID), slog.String("event_type", d.EventType),
						slog.String("attempt_id", rec.ID), slog.Int("attempt", rec.Number), slog.String("status", status),
						slog.Int("response_code", out.code), slog.Int64("duration_ms", out.duration.Milliseconds()),
					}
					if out.err != "" {
						attrs = append(attrs, slog.String("error", out.err))
					}
					if out.detail != "" {
						// The error's own text, which the stored error
						// (classify) leaves out: the operator's to read.
						attrs = append(attrs, slog.String("error_detail", out.detail))
					}
					if next != nil {
						attrs = append(attrs, slog.Time("next_attempt_at", next.UTC()))
					}
					e.log.LogAttrs(ctx, level, "attempt", attrs...)
				}
				if status == store.StatusFailed {
					e.raiseFailure(a, rec)
				}
				settled(rec)
				return
			}
			settled(att)
		},
	})
	return status
}

// decide is what the attempt leaves its delivery in: delivered on a 2xx;
// retrying when the format retries this failure and its schedule has a step
// left, at that step's delay (with jitter) or the receiver's Retry-After if
// later; failed otherwise.
func (a *try) decide() (status string, next *time.Time) {
	out, d := a.out, a.c.Delivery
	switch {
	case out.code >= 200 && out.code < 300:
		return store.StatusDelivered, nil
	case a.series == onSchedule && a.f != nil && retryable(a.f, out) && d.SeriesAttempts < len(a.f.Schedule()):
		at := a.ended.Add(jitter(a.f.Schedule()[d.SeriesAttempts]))
		if ra := a.ended.Add(out.retryAfter); ra.After(at) {
			at = ra
		}
		return store.StatusRetrying, &at
	}
	return store.StatusFailed, nil
}

// recorded notes what became of an attempt's record, on its span, in the
// metrics and the log, and reports whether it was stored. When it was not,
// the lease expires and the delivery is attempted again: at least once,
// never lost.
func (e *Engine) recorded(ctx context.Context, a *try, status string, err error) bool {
	out := a.out
	e.traceOutcome(ctx, status, out, err)
	e.cfg.Metrics.observeAttempt(status, out, a.c.Event.CreatedAt, a.ended)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		a.log.Warn("lease lost before the attempt was recorded; another worker has the delivery")
		return false
	case err != nil:
		a.log.Error("record attempt", "err", err)
		return false
	}
	return true
}

// retryable reports whether the format's rules retry this outcome.
func retryable(f *format.Format, out *outcome) bool {
	if out.final {
		return false
	}
	if out.code == 0 {
		return true // timeout or connection error
	}
	if f.RetryOn() == format.RetryOn5xx {
		return out.code >= 500
	}
	return out.code < 200 || out.code >= 300
}

// jitter adds up to 10% to a delay, so retries of a burst spread out.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or
// unreadable. It is capped at a day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		d = time.Duration(min(secs, 86400)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, 24*time.Hour))
}

// releaseAt hands the delivery back unattempted, due at next.
func (e *Engine) releaseAt(ctx context.Context, a *try, next time.Time) {
	e.traceHandedBack(ctx)
	if err := e.st.DeliveryRelease(ctx, a.c.Delivery.ID, e.owner, next); err != nil {
		a.log.Warn("hand back delivery", "err", err)
		return
	}
	e.dueAt(next, false)
}

// dueAt tells the running fetcher, if any, that a delivery comes due at t
// (fetcher.dueAt).
func (e *Engine) dueAt(t time.Time, quiet bool) {
	e.handMu.Lock()
	f := e.fetch
	e.handMu.Unlock()
	if f != nil {
		f.dueAt(t, quiet)
	}
}

// waitTurn takes the endpoint's next rate limit turn from the store (as
// the claims give them out, so the limit holds across every node) and
// waits for it on the engine's clock; it returns ctx's error if ctx ends
// first. Only a test send waits so: the dispatcher never holds a worker
// for a turn.
func (e *Engine) waitTurn(ctx context.Context, ep *store.Endpoint) error {
	if ep.RateLimit <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	at, err := e.st.EndpointTakeTurn(ctx, ep.ID, e.now())
	if err != nil {
		return fmt.Errorf("take a rate limit turn: %w", err)
	}
	wait := at.Sub(e.now())
	if at.IsZero() || wait <= 0 {
		return nil
	}
	t := e.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// raiseFailure notes the failure of a delivery for good for the notices
// (notices): the format's failure event, coalesced per tenant and window,
// to the tenant's endpoints that subscribe to it and are not failing. Only
// API events raise one: a failure event (or a test) that fails raises
// nothing, so failures cannot loop. A delivery whose format no longer
// exists raises nothing either: the failure event's type is the format's.
// It runs on the completer's goroutine and never waits for the database.
func (e *Engine) raiseFailure(a *try, att *store.Attempt) {
	c := a.c
	if c.Event.Source != store.SourceAPI || a.f == nil {
		return
	}
	d := c.Delivery
	e.notices.add(d.TenantID, a.f.FailureEventType(), c.Event.TraceID, failure{
		DeliveryID: d.ID, EventID: d.EventID, EventType: c.Event.Type, EndpointID: d.EndpointID,
		Attempts: att.Number, ResponseCode: att.ResponseCode, Error: att.Error,
	})
}

// record writes a batch of attempts and raises the disabled event of every
// endpoint the batch disabled: the store decides that, once, in the
// batch's transaction.
func (e *Engine) record(ctx context.Context, ps []*store.AttemptRecordParams) ([]store.AttemptRecordResult, error) {
	res, err := e.st.DeliveryRecordAttempts(ctx, ps)
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if r.Disabled != nil {
			e.raiseDisabled(ctx, r.Disabled)
		}
	}
	return res, nil
}

// raiseDisabled sends the disabled endpoint's format's disabled event to
// the tenant's endpoints that subscribe to it, and to the operator's
// (withOperator). It is raised as a failure
// event (SourceFailure): it raises nothing when it fails, and a disabled
// endpoint, the one it is about among them, gets no delivery of it.
func (e *Engine) raiseDisabled(ctx context.Context, d *store.EndpointDisabled) {
	ep := d.Endpoint
	log := e.log.With("endpoint", ep.ID, "tenant", ep.TenantID)
	log.Warn("endpoint disabled", "reason", d.Reason, "code", d.ResponseCode)
	f, err := e.cfg.Formats.Get(ctx, ep.Format)
	if err != nil {
		log.Error("disabled event: load format", "err", err)
		return
	}
	raw, err := json.Marshal(disabledData{
		EndpointID: ep.ID, Reason: d.Reason, DisabledAt: d.At.UTC().Format(time.RFC3339Nano), ResponseCode: d.ResponseCode,
	})
	if err != nil {
		log.Error("disabled event data", "err", err)
		return
	}
	now := e.now()
	traceID := d.TraceID
	if traceID == "" {
		traceID = id.NewTraceID()
	}
	ev := &store.Event{
		TenantID: ep.TenantID, ID: id.NewAt(id.Event, now), Type: f.DisabledEventType(),
		Data: canonical(raw), TraceID: traceID, Source: store.SourceFailure, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	// The operator hears of it in the same transaction.
	ps := withOperator([]*store.EventCreateParams{{Event: ev, Now: now}}, format.DefaultDisabledEventType)
	out, _, err := e.st.EventCreateMany(ctx, ps, nil)
	if err != nil {
		log.Error("raise disabled event", "err", err)
		return
	}
	for i, o := range out {
		if o.Err != nil {
			log.Error("raise disabled event", "err", o.Err, "for_tenant", ps[i].Event.TenantID)
		}
	}
}

// disabledData is a disabled event's data, in the order docs/formats.md
// gives.
type disabledData struct {
	EndpointID   string `json:"endpoint_id"`
	Reason       string `json:"reason"`
	DisabledAt   string `json:"disabled_at"`
	ResponseCode int    `json:"response_code"`
}
