// Package deliverysvc owns what a user may do with deliveries, for the API,
// the dashboard and the CLI: read them with their attempts (and the checks
// of the list's filters), retry one (a delivery that has come to an end
// starts another attempt series; one waiting for its next attempt has it
// brought to now), and bring an endpoint's whole retrying backlog to now.
// Sending them is package delivery's engine.
package deliverysvc
