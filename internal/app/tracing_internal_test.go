package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// TestNewTracing_OffUnlessConfigured: with no endpoint in the flag or the
// environment the provider is the no-op one (no exporter, no processor);
// the flag or either standard variable turns on an SDK provider.
func TestNewTracing_OffUnlessConfigured(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name     string
		endpoint string
		env      map[string]string
		on       bool
	}{
		{"nothing", "", nil, false},
		{"blank variables", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " ", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""}, false},
		{"other OTEL variables", "", map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"}, false},
		{"flag", "http://127.0.0.1:4318", nil, true},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
	} {
		tp, shutdown, err := newTracing(context.Background(), tc.endpoint, fakeEnv(tc.env), log)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, isNoop := tp.(noop.TracerProvider)
		_, isSDK := tp.(*sdktrace.TracerProvider)
		if tc.on != isSDK || tc.on == isNoop {
			t.Errorf("%s: provider %T, want tracing on=%v", tc.name, tp, tc.on)
		}
		// Nothing was recorded, so shutting down sends nothing.
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("%s: shutdown: %v", tc.name, err)
		}
	}
}

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":                 "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":                "http://127.0.0.1:4318/v1/traces",
		"https://otel.example.com/otlp":         "https://otel.example.com/otlp/v1/traces",
		"https://otel.example.com/v1/traces":    "https://otel.example.com/v1/traces",
		"http://collector:4318/x/v1/traces?q=1": "http://collector:4318/x/v1/traces",
	} {
		if got, err := tracesURL(in); err != nil || got != want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"localhost:4318", "grpc://c:4317", "http://", "http://u:p@c:4318", "://x"} {
		if _, err := tracesURL(bad); err == nil || !strings.Contains(err.Error(), "otlp endpoint") {
			t.Errorf("tracesURL(%q): err = %v, want one naming the otlp endpoint", bad, err)
		}
		if _, _, err := newTracing(context.Background(), bad, fakeEnv(nil), slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("newTracing with --otlp-endpoint %q: no error", bad)
		}
	}
}
