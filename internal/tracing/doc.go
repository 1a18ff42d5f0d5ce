// Package tracing decides whether Herald traces at all: a tracer from the
// configured OpenTelemetry provider, or none when there is no provider or a
// no-op one, so that the API and the engine wrap and record nothing and
// tracing costs nothing when it is off.
package tracing
