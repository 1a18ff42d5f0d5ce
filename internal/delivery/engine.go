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
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// maxResponseBody is how much of a receiver's answer an attempt keeps.
const maxResponseBody = 4 << 10

// Config configures an Engine. Zero values take the defaults in NewEngine.
type Config struct {
	Store   store.Store
	Formats *catalog.Catalog
	Client  *http.Client
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time

	// Workers is how many attempts may be in flight on this node.
	Workers int
	// PerEndpoint caps in-flight attempts per endpoint across all nodes.
	PerEndpoint int
	// Lease is how long a claimed delivery stays ours without a heartbeat.
	// In-flight leases are extended every Lease/3, so a live engine keeps
	// its deliveries however long the format's timeout, and a crashed
	// engine's deliveries are taken again by another within Lease.
	Lease time.Duration
	// PollInterval is the fallback wake-up when no notification comes.
	PollInterval time.Duration
	// ShutdownGrace is how long in-flight attempts may run on after Run's
	// context ends before they are cut off and handed back.
	ShutdownGrace time.Duration
	// Owner identifies this engine in leases; default host-pid-random.
	Owner string
	// UserAgent is sent unless the format sets one.
	UserAgent string
	// TracerProvider makes a client span of every attempt, in the trace of
	// the attempt's event; nil or a no-op provider means no tracing.
	TracerProvider trace.TracerProvider
}

// Engine claims due deliveries, sends them and records every attempt.
type Engine struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	owner  string
	tracer trace.Tracer // nil: tracing is off

	limitersMu sync.Mutex
	limiters   map[string]*rate.Limiter

	inflightMu sync.Mutex
	inflight   map[string]struct{} // deliveries this engine is attempting
}

// NewEngine wires an engine; it does no I/O.
func NewEngine(cfg Config) *Engine {
	cfg.Workers = cmp.Or(cfg.Workers, 32)
	cfg.PerEndpoint = cmp.Or(cfg.PerEndpoint, 8)
	cfg.Lease = max(cmp.Or(cfg.Lease, 30*time.Second), 3*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 5*time.Second)
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, 10*time.Second)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, "Herald-Webhooks/1.0")
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(ClientConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = crand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	return &Engine{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, now: cfg.Now, owner: cfg.Owner,
		tracer:   newTracer(cfg.TracerProvider),
		limiters: map[string]*rate.Limiter{}, inflight: map[string]struct{}{},
	}
}

// Run claims and sends deliveries until ctx ends, then stops claiming, lets
// in-flight attempts finish for up to ShutdownGrace, hands back the ones
// still running, and returns.
func (e *Engine) Run(ctx context.Context) error {
	wake, err := e.st.Listen(ctx)
	if err != nil {
		return fmt.Errorf("listen for new deliveries: %w", err)
	}
	// Attempts run on their own context, so a shutdown can let them finish.
	sendCtx, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	go e.heartbeat(sendCtx)

	var wg sync.WaitGroup
	done := make(chan struct{}, e.cfg.Workers)
	inflight := 0
	for {
		more := false
		if free := e.cfg.Workers - inflight; free > 0 {
			claimed, err := e.st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
				Owner: e.owner, Now: e.now(), Lease: e.cfg.Lease,
				Limit: free, PerEndpoint: e.cfg.PerEndpoint,
			})
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim due deliveries", "err", err)
			}
			for _, c := range claimed {
				inflight++
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.attempt(sendCtx, c, false)
					done <- struct{}{}
				}()
			}
			more = err == nil && len(claimed) == free
		}
		e.cfg.Metrics.setInflight(inflight)
		if more {
			continue
		}

		wait := e.cfg.PollInterval
		if inflight < e.cfg.Workers {
			if next, err := e.st.DeliveryNextDue(ctx); err == nil {
				if d := next.Sub(e.now()); d > 0 && d < wait {
					wait = d
				}
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return e.shutdown(&wg, cutOff)
		case <-wake:
		case <-done:
			inflight--
		case <-timer.C:
		}
		timer.Stop()
		for drained := false; !drained; {
			select {
			case <-done:
				inflight--
			default:
				drained = true
			}
		}
	}
}

func (e *Engine) shutdown(wg *sync.WaitGroup, cutOff context.CancelFunc) error {
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(e.cfg.ShutdownGrace):
		e.log.Warn("shutdown grace over, handing back in-flight deliveries")
		cutOff()
		<-finished
	}
	return nil
}

// heartbeat extends the leases of the attempts in flight until ctx ends.
func (e *Engine) heartbeat(ctx context.Context) {
	t := time.NewTicker(e.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.inflightMu.Lock()
		ids := make([]string, 0, len(e.inflight))
		for id := range e.inflight {
			ids = append(ids, id)
		}
		e.inflightMu.Unlock()
		if len(ids) == 0 {
			continue
		}
		if _, err := e.st.DeliveryExtendLeases(ctx, e.owner, ids, e.now().Add(e.cfg.Lease)); err != nil && ctx.Err() == nil {
			// The attempts go on; if a lease runs out meanwhile, another
			// engine may send again (at least once) and our record is fenced.
			e.log.Warn("extend leases", "err", err, "deliveries", len(ids))
		}
	}
}

func (e *Engine) track(id string) func() {
	e.inflightMu.Lock()
	e.inflight[id] = struct{}{}
	e.inflightMu.Unlock()
	return func() {
		e.inflightMu.Lock()
		delete(e.inflight, id)
		e.inflightMu.Unlock()
	}
}

// attempt makes one attempt of a claimed delivery and records it. With
// single, the attempt is the delivery's only one (a test send): it ends
// delivered or failed.
func (e *Engine) attempt(ctx context.Context, c *store.Claimed, single bool) *store.Attempt {
	d, ep, ev := c.Delivery, c.Endpoint, c.Event
	log := e.log.With("delivery", d.ID, "endpoint", ep.ID, "tenant", d.TenantID)
	ctx, span := e.startSpan(ctx, c)
	defer span.End()
	bg := context.WithoutCancel(ctx)
	defer e.track(d.ID)()

	f, err := e.cfg.Formats.Get(ctx, ep.Format)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return e.finish(bg, c, log, nil, &outcome{err: fmt.Sprintf("format %q no longer exists", ep.Format)}, nil, true)
	case err != nil:
		// The database is not answering: hand the delivery back for later
		// rather than count a failure that is not the receiver's.
		log.Warn("load format", "err", err)
		e.releaseAt(bg, c, log, e.now().Add(e.cfg.PollInterval))
		return nil
	}
	in, err := format.NewInput(formatEvent(ev), d.ID, ep.ID)
	if err != nil {
		return e.finish(bg, c, log, f, &outcome{err: err.Error()}, nil, true)
	}
	body := c.Body
	if body == nil {
		body = f.RenderBody(in)
	}

	if lim := e.limiter(ep); lim != nil {
		if err := lim.Wait(ctx); err != nil {
			e.release(bg, c, log)
			return nil
		}
	}

	started := e.now()
	in.Timestamp, in.Attempt = started, d.Attempts+1
	out := e.send(ctx, f, c, in, body)
	if ctx.Err() != nil && out.code == 0 {
		// Cut off by shutdown: this was not the receiver's failure.
		e.release(bg, c, log)
		return nil
	}
	return e.finish(bg, c, log, f, out, body, single)
}

// outcome is what one HTTP request came to.
type outcome struct {
	started    time.Time
	duration   time.Duration
	code       int
	body       string
	err        string
	retryAfter time.Duration
	final      bool // a failure no retry can mend
}

func (e *Engine) send(ctx context.Context, f *format.Format, c *store.Claimed, in *format.Input, body []byte) *outcome {
	ep, started := c.Endpoint, in.Timestamp
	out := &outcome{started: started}

	ctx, cancel := context.WithTimeout(ctx, f.Timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		out.err = "bad endpoint URL: " + err.Error()
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
		out.err = describeError(err, f.Timeout())
		return out
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Drain a little more so the connection can go back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out.duration = e.now().Sub(started)
	out.code = resp.StatusCode
	out.body = string(b)
	if err != nil && !errors.Is(err, context.Canceled) {
		out.err = "reading response: " + describeError(err, f.Timeout())
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), e.now())
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && out.err == "" {
		out.err = "redirects are not followed: " + resp.Header.Get("Location")
	}
	return out
}

// secrets lists the signing secrets, newest first: the previous secret is
// still used during a rotation's grace period where the scheme has room.
func (e *Engine) secrets(f *format.Format, ep *store.Endpoint) []string {
	s := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil &&
		ep.PreviousSecretExpiresAt.After(e.now()) && f.SupportsRotationGrace() {
		s = append(s, ep.PreviousSecret)
	}
	return s
}

// formatEvent is what the format's templates see of a stored event.
func formatEvent(ev *store.Event) *format.Event {
	return &format.Event{
		TenantID: ev.TenantID, ID: ev.ID, Type: ev.Type, Data: ev.Data,
		TraceID: ev.TraceID, CreatedAt: ev.CreatedAt,
	}
}

// finish records the attempt and decides what comes next.
func (e *Engine) finish(ctx context.Context, c *store.Claimed, log *slog.Logger, f *format.Format, out *outcome, body []byte, single bool) *store.Attempt {
	d := c.Delivery
	now := e.now()
	if out.started.IsZero() {
		out.started = now
	}
	att := &store.Attempt{
		ID: id.NewAt(id.Attempt, out.started), DeliveryID: d.ID, Number: d.Attempts + 1,
		StartedAt: out.started, DurationMS: out.duration.Milliseconds(),
		ResponseCode: out.code, ResponseBody: out.body, Error: out.err,
	}
	p := &store.AttemptRecordParams{DeliveryID: d.ID, Owner: e.owner, Attempt: att, Body: body, Now: now}

	ok := out.code >= 200 && out.code < 300
	switch {
	case ok:
		p.Status = store.StatusDelivered
	case f != nil && !single && retryable(f, out) && d.SeriesAttempts < len(f.Schedule()):
		next := now.Add(jitter(f.Schedule()[d.SeriesAttempts]))
		if ra := now.Add(out.retryAfter); ra.After(next) {
			next = ra
		}
		p.Status = store.StatusRetrying
		p.NextAttemptAt = &next
	default:
		p.Status = store.StatusFailed
	}

	rec, err := e.st.DeliveryRecordAttempt(ctx, p)
	e.traceOutcome(ctx, p.Status, out, err)
	e.cfg.Metrics.observeAttempt(p.Status, out, c.Event.CreatedAt, now)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("lease lost before the attempt was recorded; another worker has the delivery")
		return att
	case err != nil:
		// The lease will expire and the delivery will be attempted again:
		// at-least-once, never lost.
		log.Error("record attempt", "err", err)
		return att
	}
	log.Debug("attempt", "status", p.Status, "code", out.code, "ms", out.duration.Milliseconds())
	if p.Status == store.StatusFailed && c.Event.Source == store.SourceAPI && f != nil {
		e.raiseFailure(ctx, c, f, rec, log)
	}
	return rec
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

func (e *Engine) release(ctx context.Context, c *store.Claimed, log *slog.Logger) {
	e.releaseAt(ctx, c, log, e.now())
}

func (e *Engine) releaseAt(ctx context.Context, c *store.Claimed, log *slog.Logger, next time.Time) {
	e.traceHandedBack(ctx)
	if err := e.st.DeliveryRelease(ctx, c.Delivery.ID, e.owner, next); err != nil {
		log.Warn("hand back delivery", "err", err)
	}
}

func (e *Engine) limiter(ep *store.Endpoint) *rate.Limiter {
	if ep.RateLimit <= 0 {
		return nil
	}
	e.limitersMu.Lock()
	defer e.limitersMu.Unlock()
	l := e.limiters[ep.ID]
	if l == nil || int(l.Limit()) != ep.RateLimit {
		// A burst of 1 spaces attempts evenly: a bucket of N would allow up
		// to 2N-1 in one second, and the promise is at most N a second.
		l = rate.NewLimiter(rate.Limit(ep.RateLimit), 1)
		e.limiters[ep.ID] = l
	}
	return l
}

// raiseFailure sends the format's failure event to the tenant's endpoints
// that subscribe to it. Only API events raise one: a failure event (or a
// test) that fails raises nothing, so failures cannot loop.
func (e *Engine) raiseFailure(ctx context.Context, c *store.Claimed, f *format.Format, att *store.Attempt, log *slog.Logger) {
	d := c.Delivery
	raw, err := json.Marshal(failureData{
		DeliveryID: d.ID, EventID: d.EventID, EventType: c.Event.Type, EndpointID: d.EndpointID,
		Attempts: att.Number, ResponseCode: att.ResponseCode, Error: att.Error,
	})
	if err != nil {
		log.Error("failure event data", "err", err)
		return
	}
	now := e.now()
	ev := &store.Event{
		TenantID: d.TenantID, ID: id.NewAt(id.Event, now), Type: f.FailureEventType(),
		Data: canonical(raw), TraceID: c.Event.TraceID, Source: store.SourceFailure, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	if _, err := e.st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: now}); err != nil {
		log.Error("raise failure event", "err", err)
	}
}

// failureData is a failure event's data, in the order wire-formats.md gives.
type failureData struct {
	DeliveryID   string `json:"delivery_id"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	EndpointID   string `json:"endpoint_id"`
	Attempts     int    `json:"attempts"`
	ResponseCode int    `json:"response_code"`
	Error        string `json:"error"`
}
