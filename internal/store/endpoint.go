package store

import "time"

// PreviousSecretValid reports whether the secret the last rotation replaced
// still signs at now: a rotation's grace period ends at
// PreviousSecretExpiresAt. The engine signs with it while it does, and the
// API shows when it stops.
func (e *Endpoint) PreviousSecretValid(now time.Time) bool {
	return e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(now)
}
