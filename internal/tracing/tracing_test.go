package tracing_test

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/tracing"
)

func TestTracer_OffWithoutARealProvider(t *testing.T) {
	t.Parallel()
	if tracing.Tracer(nil, "scope") != nil {
		t.Error("a nil provider gives a tracer, want none")
	}
	if tracing.Tracer(noop.NewTracerProvider(), "scope") != nil {
		t.Error("a no-op provider gives a tracer, want none")
	}
	tp := trace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	if tracing.Tracer(tp, "scope") == nil {
		t.Error("a real provider gives no tracer")
	}
}
