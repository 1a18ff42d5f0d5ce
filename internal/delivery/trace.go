package delivery

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// tracerName names the instrumentation scope of the engine's spans.
const tracerName = "github.com/heraldhq/herald/internal/delivery"

// attemptSpanName is the name of the client span of one delivery attempt.
const attemptSpanName = "deliver"

// The attributes of a delivery attempt's span. Secrets, signature headers,
// the endpoint's custom headers and request or response bodies are never
// among them.
const (
	attrDeliveryID     = attribute.Key("herald.delivery.id")
	attrEventID        = attribute.Key("herald.event.id")
	attrEventType      = attribute.Key("herald.event.type")
	attrEventSource    = attribute.Key("herald.event.source")
	attrEndpointID     = attribute.Key("herald.endpoint.id")
	attrTenantID       = attribute.Key("herald.tenant.id")
	attrAttempt        = attribute.Key("herald.attempt")
	attrDeliveryStatus = attribute.Key("herald.delivery.status")
	attrErrorMessage   = attribute.Key("error.message")
)

// offSpan is what an attempt gets when tracing is off: a span that records
// nothing and costs nothing.
var offSpan = trace.SpanFromContext(context.Background())

// newTracer returns the tracer for attempt spans, or nil when tracing is
// off.
func newTracer(tp trace.TracerProvider) trace.Tracer { return tracing.Tracer(tp, tracerName) }

// traceparent is the W3C traceparent a format may send receivers
// ({{attempt.traceparent}}): the attempt span's, or, with tracing off, the
// event's trace with a span id of its own and not sampled, so receivers
// still join the producer's trace.
func traceparent(ctx context.Context, eventTraceID string) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
	}
	tid, err := trace.TraceIDFromHex(eventTraceID)
	if err != nil {
		return ""
	}
	var sid trace.SpanID
	_, _ = crand.Read(sid[:])
	return fmt.Sprintf("00-%s-%s-00", tid, sid)
}

// startSpan starts the client span of one attempt. Its parent is the
// event's trace: a remote span context made of the trace id stored with the
// event (from the producer's traceparent) and a random span id, so every
// attempt of the event, on any node and however late, shows in the
// producer's trace. A caller's own span in ctx (a test send's API request)
// is linked, not made the parent.
func (e *Engine) startSpan(ctx context.Context, c *store.Claimed) (context.Context, trace.Span) {
	if e.tracer == nil {
		return ctx, offSpan
	}
	d, ev, ep := c.Delivery, c.Event, c.Endpoint
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attrDeliveryID.String(d.ID),
			attrEventID.String(ev.ID),
			attrEventType.String(ev.Type),
			attrEventSource.String(ev.Source),
			attrEndpointID.String(ep.ID),
			attrTenantID.String(d.TenantID),
			attrAttempt.Int(d.Attempts+1),
			semconv.HTTPRequestMethodPost,
		),
	}
	if u, err := url.Parse(ep.URL); err == nil && u.Hostname() != "" {
		// The host only: a path or query may hold a token.
		opts = append(opts, trace.WithAttributes(semconv.ServerAddress(u.Hostname())))
	}
	if caller := trace.SpanContextFromContext(ctx); caller.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: caller}))
	}
	if parent, ok := eventParent(ev.TraceID); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	return e.tracer.Start(ctx, attemptSpanName, opts...)
}

// eventParent is the remote span context an event's attempts hang from:
// its stored trace id, a random span id, sampled. The producer's sampling
// decision is not stored, so attempts are always offered to the sampler as
// sampled.
func eventParent(traceID string) (trace.SpanContext, bool) {
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = crand.Read(sid[:]) // never fails: crypto/rand crashes the program rather than return an error
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true,
	}), true
}

// traceOutcome puts what an attempt came to on its span (the one in ctx,
// started by startSpan): the receiver's status, the status the delivery was
// left in, and on failure the error's kind and message. The response body
// is never recorded. recordErr is the error recording the attempt gave.
func (e *Engine) traceOutcome(ctx context.Context, status string, out *outcome, recordErr error) {
	if e.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attrDeliveryStatus.String(status)}
	if out.code != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(out.code))
	}
	if out.code < 200 || out.code >= 300 {
		msg := out.err
		if msg == "" {
			msg = "HTTP " + strconv.Itoa(out.code) + " " + http.StatusText(out.code)
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(out)), attrErrorMessage.String(msg))
		span.SetStatus(codes.Error, msg)
	}
	span.SetAttributes(attrs...)
	switch {
	case errors.Is(recordErr, store.ErrLeaseLost):
		span.AddEvent("attempt not recorded: lease lost")
	case recordErr != nil:
		span.AddEvent("attempt not recorded: database error")
	}
}

// traceHandedBack marks an attempt's span when the delivery was handed back
// without an attempt being counted (shutdown, a rate limit wait cut off, a
// database error loading the format).
func (e *Engine) traceHandedBack(ctx context.Context) {
	if e.tracer == nil {
		return
	}
	trace.SpanFromContext(ctx).AddEvent("handed back")
}

// errorType is the low-cardinality kind of a failed attempt for the
// error.type attribute: the receiver's status code when it answered, the
// cause's kind when the request had none (classify), otherwise what of
// Herald's own stopped the attempt before it was sent.
func errorType(out *outcome) string {
	switch e := out.err; {
	case out.code != 0:
		return strconv.Itoa(out.code)
	case out.kind != "":
		return out.kind
	case strings.HasPrefix(e, "format "):
		return "format_missing"
	case strings.HasPrefix(e, "sign: "):
		return "sign"
	}
	return kindOther
}
