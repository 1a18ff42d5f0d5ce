package store

// When an endpoint is failing, for the failure notices that are not sent
// to failing endpoints (EventCreateParams.SkipFailing): the last attempt of
// each of its newest FailingStreak attempted deliveries failed (of all of
// them, when it has fewer), looking no further back than its newest
// FailingLookback deliveries. An endpoint none of whose newest
// FailingLookback deliveries has been attempted yet (new, or with a
// backlog) is not failing. Deliveries are taken in the order they were
// created, which an index serves, rather than the order of their attempts,
// which none does.
const (
	FailingStreak   = 3
	FailingLookback = 20
)

// LastOutcome is what Failing reads of one delivery: whether it has been
// attempted, and whether its last attempt got a 2xx answer.
type LastOutcome struct {
	Attempted bool
	OK        bool
}

// LastOutcomeOf is the LastOutcome of a delivery with attempts attempts
// whose last answer had status code code (0: no answer).
func LastOutcomeOf(attempts, code int) LastOutcome {
	return LastOutcome{Attempted: attempts > 0, OK: code >= 200 && code < 300}
}

// Failing reports whether an endpoint whose newest deliveries, newest
// first, came to newest is failing.
func Failing(newest []LastOutcome) bool {
	failed := 0
	for _, o := range newest {
		if !o.Attempted {
			continue
		}
		if o.OK {
			return false
		}
		if failed++; failed == FailingStreak {
			return true
		}
	}
	return failed > 0
}
