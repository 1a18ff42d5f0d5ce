package app_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/app"
)

// startTraced runs Herald with cfg (address, database and admin key filled
// in) until the test ends; stop ends it early and returns Run's error.
func startTraced(t *testing.T, cfg *app.Config) (l *live, stop func() error) {
	t.Helper()
	cfg.AllowPrivateDestinations = true
	return runServer(t, cfg, nil)
}

// postEvent posts an event with a traceparent and returns its trace id.
func postEvent(t *testing.T, l *live, traceparent string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", l.base+"/api/v1/tenants/acme/events", strings.NewReader(`{"type":"user.created","data":{"id":1}}`))
	req.Header.Set("Authorization", "Bearer "+l.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		TraceID string `json:"trace_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post event: %d, %v", resp.StatusCode, err)
	}
	return out.TraceID
}

// TestServe_TraceFollowsTheEventToItsDelivery: the ingest request's server
// span continues the producer's traceparent, and the delivery attempt's
// client span is in the same trace; no span holds the secret, the
// signature or the admin key.
func TestServe_TraceFollowsTheEventToItsDelivery(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	l, _ := startTraced(t, &app.Config{TracerProvider: tp})
	rc := newCapture(t, nil)
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	epID, secret := endpoint(t, l, rc.URL+"/hook", "", []string{"*"}, "")

	const producerTrace = "0af7651916cd43dd8448eb211c80319c"
	if tid := postEvent(t, l, "00-"+producerTrace+"-b7ad6b7169203331-01"); tid != producerTrace {
		t.Fatalf("event trace id %s, want the traceparent's %s", tid, producerTrace)
	}
	got := rc.wait(t, 1, 10*time.Second)
	if sig := got[0].header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
		t.Fatalf("signature %q: the secret check below would prove nothing", sig)
	}
	if tp := got[0].header.Get("traceparent"); tp != "" {
		t.Errorf("the delivery carries traceparent %q, want none", tp)
	}

	var ingest, deliver sdktrace.ReadOnlySpan
	deadline := time.Now().Add(10 * time.Second)
	for (ingest == nil || deliver == nil) && time.Now().Before(deadline) {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "POST /api/v1/tenants/{tenant}/events":
				ingest = s
			case "deliver":
				deliver = s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ingest == nil || deliver == nil {
		t.Fatalf("spans: ingest %v, deliver %v; want both", ingest != nil, deliver != nil)
	}
	for _, s := range []sdktrace.ReadOnlySpan{ingest, deliver} {
		if s.SpanContext().TraceID().String() != producerTrace {
			t.Errorf("span %q in trace %s, want the producer's %s", s.Name(), s.SpanContext().TraceID(), producerTrace)
		}
	}
	if ingest.Parent().SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("ingest span's parent %s, want the producer's span b7ad6b7169203331", ingest.Parent().SpanID())
	}
	a := map[string]string{}
	for _, kv := range deliver.Attributes() {
		a[string(kv.Key)] = kv.Value.Emit()
	}
	if a["herald.endpoint.id"] != epID || a["herald.delivery.status"] != "delivered" || a["http.response.status_code"] != "200" ||
		a["herald.attempt"] != "1" || a["herald.tenant.id"] != "acme" || a["herald.event.type"] != "user.created" {
		t.Errorf("deliver span attributes %v", a)
	}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			for _, secretish := range []string{secret, strings.TrimPrefix(secret, "whsec_"), "v1,", liveAdminKey} {
				if strings.Contains(kv.Value.Emit(), secretish) {
					t.Errorf("span %q attribute %s holds %q", s.Name(), kv.Key, secretish)
				}
			}
		}
	}
}

// TestServe_OTLPEndpointExportsSpans: with --otlp-endpoint, the spans reach
// the collector over OTLP/HTTP (a protobuf POST to /v1/traces), flushed when
// the server stops, with service.name "herald".
func TestServe_OTLPEndpointExportsSpans(t *testing.T) {
	t.Parallel()
	type export struct {
		method, path, contentType string
		req                       *collectortrace.ExportTraceServiceRequest
		err                       error
	}
	var mu sync.Mutex
	var exports []export
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := export{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type")}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			body, e.err = gzip.NewReader(r.Body)
		}
		if e.err == nil {
			raw, _ := io.ReadAll(body)
			e.req = &collectortrace.ExportTraceServiceRequest{}
			e.err = proto.Unmarshal(raw, e.req)
		}
		mu.Lock()
		exports = append(exports, e)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer collector.Close()

	l, stop := startTraced(t, &app.Config{OTLPEndpoint: collector.URL})
	rc := newCapture(t, nil)
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	endpoint(t, l, rc.URL+"/hook", "", []string{"*"}, "")
	const producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	postEvent(t, l, "00-"+producerTrace+"-00f067aa0ba902b7-01")
	rc.wait(t, 1, 10*time.Second)
	// Let the attempt be recorded (its span ends then), then stop: the
	// shutdown flushes the batch.
	waitDelivered := time.Now().Add(10 * time.Second)
	for {
		out := l.must(http.StatusOK, "GET", "/api/v1/tenants/acme/deliveries?status=delivered", nil)
		if len(out["data"].([]any)) == 1 {
			break
		}
		if time.Now().After(waitDelivered) {
			t.Fatal("delivery not recorded as delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("server: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(exports) == 0 {
		t.Fatal("the collector got nothing")
	}
	names := map[string]string{} // span name -> trace id
	for _, e := range exports {
		if e.method != http.MethodPost || e.path != "/v1/traces" || e.contentType != "application/x-protobuf" || e.err != nil {
			t.Errorf("export %s %s (%s): %v; want a protobuf POST to /v1/traces", e.method, e.path, e.contentType, e.err)
			continue
		}
		for _, rs := range e.req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			if service != "herald" {
				t.Errorf("service.name %q, want herald", service)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names[s.Name] = hex.EncodeToString(s.TraceId)
				}
			}
		}
	}
	for _, name := range []string{"POST /api/v1/tenants/{tenant}/events", "deliver"} {
		if tid, ok := names[name]; !ok || tid != producerTrace {
			t.Errorf("span %q exported in trace %q (present %v), want trace %s; got spans %v", name, tid, ok, producerTrace, names)
		}
	}
}
