// Package bench is `herald bench`: it measures a Herald deployment (one it
// starts in this process, or a running server) with scenarios of ingest,
// delivery throughput, latency at a fixed rate, a noisy neighbour, failing
// receivers and a backlog, and puts every figure beside the raw ceiling of
// the same run: signed POSTs sent straight from its own sender to its own
// receivers. It owns the load, the receivers and the figures; it drives
// Herald only through the HTTP API and app.Main. It measures the machine,
// so it reads the wall clock, not an injected one.
package bench
