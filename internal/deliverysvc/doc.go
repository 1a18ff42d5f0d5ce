// Package deliverysvc owns what a user may do with deliveries, for the API,
// the dashboard and the CLI: read them with their attempts, and retry one
// that has come to an end (only a delivered or failed delivery starts
// another attempt series). Sending them is package delivery's engine.
package deliverysvc
