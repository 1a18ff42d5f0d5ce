package store

import "time"

// MaxPreviousSecrets is how many replaced secrets an endpoint may have
// signing at once, beside its current one: each adds a signature to every
// delivery.
const MaxPreviousSecrets = 5

// ActivePreviousSecrets is the replaced secrets that still sign at now,
// newest first: those whose grace period has not ended.
func (e *Endpoint) ActivePreviousSecrets(now time.Time) []PreviousSecret {
	var out []PreviousSecret
	for _, p := range e.PreviousSecrets {
		if p.Secret != "" && p.ExpiresAt.After(now) {
			out = append(out, p)
		}
	}
	return out
}

// SigningSecrets is every secret that signs a delivery made at now, newest
// first: the current one, then each replaced one still in its grace
// period. The engine signs with all of them where the scheme has room for
// several signatures, with the first alone where it has not.
func (e *Endpoint) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	for _, p := range e.ActivePreviousSecrets(now) {
		out = append(out, p.Secret)
	}
	return out
}

// OneAtATimeAfter is how many attempts in a row must have failed for an
// endpoint to be sent one attempt at a time (InFlightCap) until one is
// delivered. Its deliveries wait their turn, due, instead of each taking a
// worker to find the receiver still down: a refused endpoint at 100
// events a second made over 2,000 attempts a second under the bench's
// short retry schedule, more than the node's healthy endpoints were sent
// (docs/design.md).
const OneAtATimeAfter = 10

// InFlightCap is the endpoint's cap on attempts in flight across all nodes
// under a server cap of server: 1 after OneAtATimeAfter failed attempts in
// a row, else its own MaxInFlight when set and lower, else the server's.
// The claim queries spell the same rule in SQL (sqlstore.InFlightCap).
func (e *Endpoint) InFlightCap(server int) int {
	if e.Health.ConsecutiveFailures >= OneAtATimeAfter {
		return 1
	}
	if e.MaxInFlight > 0 && e.MaxInFlight < server {
		return e.MaxInFlight
	}
	return server
}
