package delivery_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// withRecorder gives the engine a tracer provider that keeps its spans in
// memory.
func withRecorder(t *testing.T) (option, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return func(c *delivery.Config) { c.TracerProvider = tp }, rec
}

// deliverSpans are the ended "deliver" spans of one delivery, in the order
// they ended.
func deliverSpans(rec *tracetest.SpanRecorder, deliveryID string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "deliver" && spanAttrs(s)["herald.delivery.id"].AsString() == deliveryID {
			out = append(out, s)
		}
	}
	return out
}

func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, deliveryID string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	waitFor(t, "the attempts' spans", 10*time.Second, func() bool { return len(deliverSpans(rec, deliveryID)) >= n })
	return deliverSpans(rec, deliveryID)
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// wantAttrs fails for every attribute of want that s lacks or has otherwise.
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]attribute.Value) {
	t.Helper()
	got := spanAttrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %s attempt %d: %s = %q, want %q", s.Name(), got["herald.attempt"].AsInt64(), k, got[k].Emit(), v.Emit())
		}
	}
}

// noSecrets fails if any attribute, event or status of any recorded span
// holds one of the secrets or a signature ("v1," is how the Standard
// Webhooks signature header starts).
func noSecrets(t *testing.T, rec *tracetest.SpanRecorder, secrets ...string) {
	t.Helper()
	secrets = append(secrets, "v1,")
	var texts []string
	for _, s := range rec.Ended() {
		texts = append(texts, s.Name(), s.Status().Description)
		for _, kv := range s.Attributes() {
			texts = append(texts, kv.Value.Emit())
		}
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
	}
	if len(texts) == 0 {
		t.Fatal("no spans to search")
	}
	for _, text := range texts {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("a span holds %q: %q", secret, text)
			}
		}
	}
}

// TestTrace_DeliveredAttemptJoinsTheEventsTrace: a delivered attempt makes a
// client span "deliver" in the event's trace, with its ids, the attempt
// number, the receiver's status and the delivery's new status, and without
// the secret, the signature or the endpoint's own headers.
func TestTrace_DeliveredAttemptJoinsTheEventsTrace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		traced, rec := withRecorder(t)
		b := setup(t, st, traced)
		rc := newReceiver(t)
		oldSecret := signature.GenerateSecret()
		until := time.Now().Add(time.Hour)
		ep := b.endpoint(t, rc.URL+"/hook?token=query-token-123", []string{"*"}, func(e *store.Endpoint) {
			e.PreviousSecrets = []store.PreviousSecret{{Secret: oldSecret, ExpiresAt: until}}
			e.Headers = map[string]string{"Authorization": "Bearer header-token-456"}
		})
		b.run(t)
		res := b.send(t, "user.created", `{"name":"body-value-789"}`)
		d := res.Deliveries[0]
		b.waitStatus(t, d.ID, store.StatusDelivered, 10*time.Second)
		spans := waitSpans(t, rec, d.ID, 1)
		if len(spans) != 1 {
			t.Fatalf("%d deliver spans, want 1", len(spans))
		}
		s := spans[0]
		if got := s.SpanContext().TraceID().String(); got != res.Event.TraceID {
			t.Errorf("span trace id %s, want the event's %s", got, res.Event.TraceID)
		}
		if p := s.Parent(); !p.IsRemote() || !p.SpanID().IsValid() || p.TraceID() != s.SpanContext().TraceID() {
			t.Errorf("parent %+v, want a remote span of the event's trace", p)
		}
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span kind %v, want client", s.SpanKind())
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("status %v, want unset for a delivered attempt", s.Status())
		}
		wantAttrs(t, s, map[attribute.Key]attribute.Value{
			"herald.delivery.id":        attribute.StringValue(d.ID),
			"herald.event.id":           attribute.StringValue(res.Event.ID),
			"herald.event.type":         attribute.StringValue("user.created"),
			"herald.endpoint.id":        attribute.StringValue(ep.ID),
			"herald.tenant.id":          attribute.StringValue(b.tenant),
			"herald.attempt":            attribute.IntValue(1),
			"http.response.status_code": attribute.IntValue(http.StatusNoContent),
			"herald.delivery.status":    attribute.StringValue(store.StatusDelivered),
			"server.address":            attribute.StringValue("127.0.0.1"),
		})
		if v := spanAttrs(s)["error.type"]; v.Type() != attribute.INVALID {
			t.Errorf("a delivered attempt has error.type %q", v.Emit())
		}
		// The receiver did get the signature the spans must not hold.
		if sig := rc.got()[0].header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
			t.Fatalf("receiver got signature %q; the secret check below would prove nothing", sig)
		}
		noSecrets(t, rec, ep.Secret, strings.TrimPrefix(ep.Secret, "whsec_"), oldSecret, strings.TrimPrefix(oldSecret, "whsec_"),
			"query-token-123", "header-token-456", "body-value-789")
		// The outgoing request carries no trace context: the wire format is
		// what the format says.
		for _, h := range []string{"Traceparent", "Tracestate", "Baggage"} {
			if v := rc.got()[0].header.Get(h); v != "" {
				t.Errorf("delivery carries %s: %q", h, v)
			}
		}
	})
}

// TestTrace_FailedAttemptsAreErrors: each failed attempt (retrying, then
// failed) has status Error with error.type and error.message, in the same
// trace; the failure event it raises is delivered in that trace too.
func TestTrace_FailedAttemptsAreErrors(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	st := dbtest.SQLite(t, store.WithClock(fake))
	traced, rec := withRecorder(t)
	b := setup(t, st, traced, onClock(fake))
	b.putFormat(t, `{"name":"patient","retry":{"schedule":["1m"]}}`)
	dead := newReceiver(t)
	dead.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("response-body-secret"))
	})
	watcher := newReceiver(t)
	ep := b.endpoint(t, dead.URL, []string{"user.created"}, func(e *store.Endpoint) { e.Format = "patient" })
	watch := b.endpoint(t, watcher.URL, []string{"webhook.delivery_failed"})
	b.run(t)

	res := b.send(t, "user.created", `{}`)
	d := res.Deliveries[0]
	retrying := b.waitAttempts(t, d.ID, 1)
	b.advanceTo(t, *retrying.NextAttemptAt, "the last attempt to fail the delivery", func() bool { return b.get(t, d.ID).Status == store.StatusFailed })
	spans := waitSpans(t, rec, d.ID, 2)
	for i, status := range []string{store.StatusRetrying, store.StatusFailed} {
		s := spans[i]
		if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "502") {
			t.Errorf("attempt %d: status %+v, want Error naming 502", i+1, s.Status())
		}
		if s.SpanContext().TraceID().String() != res.Event.TraceID {
			t.Errorf("attempt %d: trace %s, want the event's %s", i+1, s.SpanContext().TraceID(), res.Event.TraceID)
		}
		wantAttrs(t, s, map[attribute.Key]attribute.Value{
			"herald.attempt":            attribute.IntValue(i + 1),
			"herald.delivery.status":    attribute.StringValue(status),
			"http.response.status_code": attribute.IntValue(http.StatusBadGateway),
			"error.type":                attribute.StringValue("502"),
			"error.message":             attribute.StringValue("HTTP 502 Bad Gateway"),
		})
	}
	if spans[0].Parent().SpanID() == spans[1].Parent().SpanID() {
		t.Errorf("both attempts hang from parent span %s, want a fresh random one each", spans[0].Parent().SpanID())
	}

	// The failure event keeps the trace id, so its delivery is in the trace.
	b.advanceTo(t, fake.Now().Add(time.Second), "the failure event's delivery span", func() bool {
		for _, s := range rec.Ended() {
			if a := spanAttrs(s); a["herald.endpoint.id"].AsString() == watch.ID && a["herald.event.type"].AsString() == "webhook.delivery_failed" {
				return s.SpanContext().TraceID().String() == res.Event.TraceID
			}
		}
		return false
	})
	noSecrets(t, rec, ep.Secret, watch.Secret, "response-body-secret")
}

// TestTrace_UnansweredAttemptHasItsErrorKind: an attempt that gets no
// answer has no status code, and error.type says why.
func TestTrace_UnansweredAttemptHasItsErrorKind(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	traced, rec := withRecorder(t)
	b := setup(t, st, traced)
	b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	b.endpoint(t, closed, []string{"*"}, func(e *store.Endpoint) { e.Format = "once" })
	b.run(t)
	res := b.send(t, "a", `{}`)
	b.waitStatus(t, res.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
	s := waitSpans(t, rec, res.Deliveries[0].ID, 1)[0]
	a := spanAttrs(s)
	if s.Status().Code != codes.Error || a["error.type"].AsString() != "connection" || !strings.Contains(a["error.message"].AsString(), "refused") {
		t.Errorf("status %+v, error.type %q, error.message %q; want Error, connection, a refusal",
			s.Status(), a["error.type"].Emit(), a["error.message"].Emit())
	}
	if v, ok := a["http.response.status_code"]; ok {
		t.Errorf("an unanswered attempt has http.response.status_code %v", v.Emit())
	}
}

// TestTrace_TestSendLinksTheCaller: a test send's span is in the test
// event's trace and links the span of the request that asked for it; with
// tracing off the engine starts no span and leaves the caller's alone.
func TestTrace_TestSendLinksTheCaller(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		callerRec := tracetest.NewSpanRecorder()
		callerTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(callerRec))
		st := dbtest.SQLite(t)
		var opts []option
		var rec *tracetest.SpanRecorder
		if on {
			var traced option
			traced, rec = withRecorder(t)
			opts = append(opts, traced)
		}
		b := setup(t, st, opts...)
		rc := newReceiver(t)
		ep := b.endpoint(t, rc.URL, []string{"*"})
		b.run(t)

		ctx, caller := callerTP.Tracer("test").Start(context.Background(), "POST .../test")
		res, err := b.engine.Test(ctx, b.tenant, ep.ID)
		caller.End()
		_ = callerTP.Shutdown(context.Background())
		if err != nil || res.Status != store.StatusDelivered {
			t.Fatalf("test send: %+v, %v", res, err)
		}
		if n := len(callerRec.Ended()); n != 1 {
			t.Fatalf("tracing on=%v: %d spans in the caller's recorder, want only the caller's", on, n)
		}
		callerSpan := callerRec.Ended()[0]
		if n := len(callerSpan.Attributes()) + len(callerSpan.Events()); n != 0 || callerSpan.Status().Code != codes.Unset {
			t.Errorf("tracing on=%v: the engine wrote on the caller's span: %v %v %v", on, callerSpan.Attributes(), callerSpan.Events(), callerSpan.Status())
		}
		if !on {
			continue
		}
		d, err := st.DeliveryGet(context.Background(), b.tenant, res.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := st.EventGet(context.Background(), b.tenant, d.EventID)
		if err != nil {
			t.Fatal(err)
		}
		spans := deliverSpans(rec, res.DeliveryID)
		if len(spans) != 1 {
			t.Fatalf("%d deliver spans for the test send, want 1", len(spans))
		}
		s := spans[0]
		if s.SpanContext().TraceID().String() != ev.TraceID {
			t.Errorf("test send span trace %s, want the test event's %s", s.SpanContext().TraceID(), ev.TraceID)
		}
		if l := s.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != caller.SpanContext().SpanID() {
			t.Errorf("links %+v, want the caller's span %s", l, caller.SpanContext().SpanID())
		}
		wantAttrs(t, s, map[attribute.Key]attribute.Value{
			"herald.event.source":    attribute.StringValue(store.SourceTest),
			"herald.delivery.status": attribute.StringValue(store.StatusDelivered),
		})
	}
}

// TestTrace_FormatPassesTheTraceparentOn: a format that asks for it sends
// each attempt's traceparent, in the event's trace: the attempt span's
// with tracing on, the event's trace, not sampled, with it off.
func TestTrace_FormatPassesTheTraceparentOn(t *testing.T) {
	t.Parallel()
	for _, tracing := range []bool{true, false} {
		dbtest.Each(t, func(t *testing.T, st store.Store) {
			var opts []option
			var rec *tracetest.SpanRecorder
			if tracing {
				var traced option
				traced, rec = withRecorder(t)
				opts = append(opts, traced)
			}
			b := setup(t, st, opts...)
			b.putFormat(t, `{"name":"traced","headers":{"traceparent":"{{attempt.traceparent}}"}}`)
			rc := newReceiver(t)
			b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "traced" })
			stop := b.run(t)
			res := b.send(t, "user.created", `{}`)
			d := res.Deliveries[0]
			b.waitStatus(t, d.ID, store.StatusDelivered, 10*time.Second)
			stop()
			got := rc.got()[0].header.Get("traceparent")
			parts := strings.Split(got, "-")
			if len(parts) != 4 || parts[0] != "00" || parts[1] != res.Event.TraceID || len(parts[2]) != 16 {
				t.Fatalf("tracing %v: traceparent %q, want 00-<the event's trace>-<span id>-<flags>", tracing, got)
			}
			if !tracing {
				if parts[3] != "00" {
					t.Errorf("tracing off: flags %q, want 00 (not sampled)", parts[3])
				}
				return
			}
			spans := waitSpans(t, rec, d.ID, 1)
			if sid := spans[0].SpanContext().SpanID().String(); parts[2] != sid || parts[3] != "01" {
				t.Errorf("tracing on: traceparent %q, want the attempt span %s, sampled", got, sid)
			}
		})
	}
}
