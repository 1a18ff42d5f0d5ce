// Package delivery sends due deliveries to their endpoints and records each
// attempt. It owns the claim loop, the per-endpoint in-flight cap and rate
// limit, the HTTP sender and the retry decision, and Herald's Prometheus
// series; it does not know about the HTTP API.
package delivery
