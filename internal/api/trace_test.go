package api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/tracing"
)

// tracedHarness is a harness whose server records its spans in memory.
func tracedHarness(t *testing.T, configure ...func(*Config)) (*harness, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHarness(t, dbtest.SQLite(t), append(configure, func(c *Config) { c.TracerProvider = tp })...)
	return h, rec
}

// lastSpan is the span the last request made.
func lastSpan(t *testing.T, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := rec.Ended()
	if len(ended) == 0 {
		t.Fatal("no span was recorded")
	}
	return ended[len(ended)-1]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestTrace_ServerSpanPerRequest: each request makes one server span named
// by its method and route pattern, continuing the caller's traceparent, with
// the method, route and status as attributes.
func TestTrace_ServerSpanPerRequest(t *testing.T) {
	t.Parallel()
	h, rec := tracedHarness(t)
	if reflect.ValueOf(h.srv.Handler()).Pointer() == reflect.ValueOf(h.srv.serveHTTP).Pointer() {
		t.Fatal("with a tracer provider the handler is not wrapped")
	}
	h.tenantWithKey(t, "acme")

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: h.admin,
		body: map[string]any{"type": "user.created", "data": map[string]any{}}, header: map[string]string{"traceparent": caller}})
	want(t, r, http.StatusAccepted)
	s := lastSpan(t, rec)
	if s.Name() != "POST /api/v1/tenants/{tenant}/events" {
		t.Errorf("span name %q, want %q", s.Name(), "POST /api/v1/tenants/{tenant}/events")
	}
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kind %v, want server", s.SpanKind())
	}
	if got := s.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s, want the caller's 4bf92f3577b34da6a3ce929d0e0e4736", got)
	}
	if got := s.Parent(); got.SpanID().String() != "00f067aa0ba902b7" || !got.IsRemote() {
		t.Errorf("parent %s (remote %v), want the caller's span 00f067aa0ba902b7, remote", got.SpanID(), got.IsRemote())
	}
	if tid := r.str(t, "trace_id"); tid != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("event trace id %s, want the traceparent's", tid)
	}
	a := attrs(s)
	for k, v := range map[attribute.Key]attribute.Value{
		"http.request.method":       attribute.StringValue("POST"),
		"http.route":                attribute.StringValue("/api/v1/tenants/{tenant}/events"),
		"http.response.status_code": attribute.IntValue(202),
		"herald.request.id":         attribute.StringValue(r.Header.Get("X-Request-Id")),
	} {
		if a[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, a[k].Emit(), v.Emit())
		}
	}
	if s.Status().Code == codes.Error {
		t.Errorf("a 202 has status Error")
	}
	for _, kv := range s.Attributes() {
		if kv.Value.Emit() == "Bearer "+h.admin || kv.Value.Emit() == h.admin {
			t.Errorf("attribute %s holds the API key", kv.Key)
		}
	}

	// A 4xx is the client's error: the span's status stays unset.
	want(t, h.as(h.admin).get("/api/v1/tenants/nope"), http.StatusNotFound)
	if s := lastSpan(t, rec); s.Name() != "GET /api/v1/tenants/{tenant}" || s.Status().Code != codes.Unset ||
		attrs(s)["http.response.status_code"] != attribute.IntValue(404) {
		t.Errorf("404: span %q status %v code %v, want GET /api/v1/tenants/{tenant}, unset, 404",
			s.Name(), s.Status().Code, attrs(s)["http.response.status_code"].Emit())
	}

	// No route: the name is the method alone, and there is no http.route.
	r = h.as(h.admin).get("/nowhere")
	want(t, r, http.StatusNotFound)
	if s := lastSpan(t, rec); s.Name() != "GET" || attrs(s)["http.route"].Type() != attribute.INVALID {
		t.Errorf("unrouted: span %q route %q, want GET and no route", s.Name(), attrs(s)["http.route"].Emit())
	}
	// A made-up method cannot make up span names.
	want(t, h.do(req{method: "BREW", path: "/api/v1/tenants", key: h.admin}), http.StatusMethodNotAllowed)
	if s := lastSpan(t, rec); s.Name() != "HTTP" || attrs(s)["http.request.method"] != attribute.StringValue("_OTHER") {
		t.Errorf("method BREW: span %q method %q, want HTTP and _OTHER", s.Name(), attrs(s)["http.request.method"].Emit())
	}
}

// TestTrace_5xxIsAnError: a 5xx answer sets the span's status to Error.
func TestTrace_5xxIsAnError(t *testing.T) {
	t.Parallel()
	h, rec := tracedHarness(t, func(c *Config) {
		c.Ready = func(context.Context) error { return errors.New("database gone") }
	})
	want(t, h.do(req{method: http.MethodGet, path: "/readyz"}), http.StatusServiceUnavailable)
	s := lastSpan(t, rec)
	if s.Name() != "GET /readyz" || s.Status().Code != codes.Error || attrs(s)["http.response.status_code"] != attribute.IntValue(503) {
		t.Errorf("span %q status %v code %v, want GET /readyz, Error, 503", s.Name(), s.Status(), attrs(s)["http.response.status_code"].Emit())
	}
}

// TestTrace_EventTraceIDIsTheSpans: whatever traceparent comes (none, valid,
// invalid), the event's trace id is the trace of the request's span, so its
// deliveries' spans land in the trace the ingest request is in.
func TestTrace_EventTraceIDIsTheSpans(t *testing.T) {
	t.Parallel()
	h, rec := tracedHarness(t)
	h.tenantWithKey(t, "acme")
	for _, tp := range []string{
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", // not sampled by the caller
		"01-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01-more",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"garbage",
	} {
		r := h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: h.admin,
			body: map[string]any{"type": "a.b", "data": map[string]any{}}, header: map[string]string{"traceparent": tp}})
		want(t, r, http.StatusAccepted)
		s := lastSpan(t, rec)
		if tid := r.str(t, "trace_id"); tid != s.SpanContext().TraceID().String() {
			t.Errorf("traceparent %q: event trace id %s, span trace id %s; want them equal", tp, tid, s.SpanContext().TraceID())
		}
	}
}

// TestTrace_OffWrapsNothing: without a provider, or with a no-op one, the
// handler is the plain one and no span is started for a request, so a
// recorder in the caller's context sees only the caller's own span.
func TestTrace_OffWrapsNothing(t *testing.T) {
	t.Parallel()
	for name, tp := range map[string]trace.TracerProvider{"nil": nil, "noop": noop.NewTracerProvider()} {
		st := dbtest.SQLite(t)
		h := newHarness(t, st, func(c *Config) { c.TracerProvider = tp })
		if got, plain := reflect.ValueOf(h.srv.Handler()).Pointer(), reflect.ValueOf(h.srv.serveHTTP).Pointer(); got != plain {
			t.Errorf("%s provider: the handler is wrapped, want the plain serveHTTP", name)
		}
		if tracing.Tracer(tp, tracerName) != nil {
			t.Errorf("%s provider: tracing is on, want off", name)
		}
		h.tenantWithKey(t, "acme")
		r := h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: h.admin,
			body: map[string]any{"type": "a.b", "data": map[string]any{}}, header: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
		want(t, r, http.StatusAccepted)
		if tid := r.str(t, "trace_id"); tid != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("%s: event trace id %s, want the traceparent's", name, tid)
		}
	}
}
