package store_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func TestEndpoint_PreviousSecretValid(t *testing.T) {
	t.Parallel()
	exp := now.Add(time.Hour)
	for _, c := range []struct {
		name string
		e    store.Endpoint
		at   time.Time
		want bool
	}{
		{"in its grace period", store.Endpoint{PreviousSecret: "old", PreviousSecretExpiresAt: &exp}, now, true},
		{"at the end of it", store.Endpoint{PreviousSecret: "old", PreviousSecretExpiresAt: &exp}, exp, false},
		{"after it", store.Endpoint{PreviousSecret: "old", PreviousSecretExpiresAt: &exp}, exp.Add(time.Microsecond), false},
		{"no previous secret", store.Endpoint{PreviousSecretExpiresAt: &exp}, now, false},
		{"no expiry", store.Endpoint{PreviousSecret: "old"}, now, false},
	} {
		if got := c.e.PreviousSecretValid(c.at); got != c.want {
			t.Errorf("%s: PreviousSecretValid = %v, want %v", c.name, got, c.want)
		}
	}
}
