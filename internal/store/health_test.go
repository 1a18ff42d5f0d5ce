package store_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/store"
)

func TestFailing(t *testing.T) {
	t.Parallel()
	ok, bad, none := store.LastOutcomeOf(1, 200), store.LastOutcomeOf(2, 503), store.LastOutcomeOf(0, 0)
	for _, c := range []struct {
		name   string
		newest []store.LastOutcome
		want   bool
	}{
		{"no deliveries", nil, false},
		{"none attempted", []store.LastOutcome{none, none}, false},
		{"one, failed", []store.LastOutcome{bad}, true},
		{"one, delivered", []store.LastOutcome{ok}, false},
		{"three failed, then older successes", []store.LastOutcome{bad, none, bad, bad, ok}, true},
		{"two failed after a success", []store.LastOutcome{bad, bad, ok}, false},
		{"the newest delivered after failures", []store.LastOutcome{ok, bad, bad, bad}, false},
		{"no answer is a failure", []store.LastOutcome{store.LastOutcomeOf(1, 0)}, true},
		{"a redirect is a failure", []store.LastOutcome{store.LastOutcomeOf(1, 302)}, true},
	} {
		if got := store.Failing(c.newest); got != c.want {
			t.Errorf("%s: Failing = %v, want %v", c.name, got, c.want)
		}
	}
}
