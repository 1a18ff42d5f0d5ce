package api

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the instrumentation scope of the API's spans.
const tracerName = "github.com/heraldhq/herald/internal/api"

// attrRequestID is the X-Request-Id the API answered with, so a span and a
// log line of the same request can be matched.
const attrRequestID = attribute.Key("herald.request.id")

// traceRequests wraps next in a server span per request, named by the
// method and the route pattern ("POST /api/v1/tenants/{tenant}/events") and
// continuing the caller's trace from its W3C traceparent header.
//
// A request without a valid traceparent starts a new trace; the handler then
// sees that trace's traceparent, so an event ingested by it carries the
// span's trace id and its deliveries' spans join the same trace.
func (s *Server) traceRequests(tracer trace.Tracer, next http.Handler) http.Handler {
	prop := propagation.TraceContext{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		continued := trace.SpanContextFromContext(ctx).IsValid()

		method := knownMethod(r.Method)
		name, route := method, ""
		if _, pattern := s.mux.Handler(r); pattern != "" {
			route = pattern
			if _, path, ok := strings.Cut(pattern, " "); ok {
				route = path
			}
			name = method + " " + route
		} else if method == "_OTHER" {
			name = "HTTP"
		}
		attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method)}
		if route != "" {
			attrs = append(attrs, semconv.HTTPRoute(route))
		}
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		if !continued {
			// Only the trace id reaches the event; no header but
			// traceparent (and an empty tracestate) is touched.
			r.Header.Del("Traceparent")
			r.Header.Del("Tracestate")
			prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
		}

		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))

		code := sw.status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(code), attrRequestID.String(w.Header().Get("X-Request-Id")))
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	})
}

// knownMethod is the method for span names and attributes: one of the
// standard methods, or "_OTHER", so a client cannot mint span names.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
