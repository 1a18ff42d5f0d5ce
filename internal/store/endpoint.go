package store

import "time"

// PreviousSecretValid reports whether the secret the last rotation replaced
// still signs at now: a rotation's grace period ends at
// PreviousSecretExpiresAt. The engine signs with it while it does, and the
// API shows when it stops.
func (e *Endpoint) PreviousSecretValid(now time.Time) bool {
	return e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(now)
}

// InFlightCap is the endpoint's cap on attempts in flight across all nodes
// under a server cap of server: its own MaxInFlight when set and lower,
// else the server's. The claim queries spell the same rule in SQL.
func (e *Endpoint) InFlightCap(server int) int {
	if e.MaxInFlight > 0 && e.MaxInFlight < server {
		return e.MaxInFlight
	}
	return server
}
