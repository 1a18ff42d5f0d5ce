package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func TestEndpoint_SigningSecrets(t *testing.T) {
	t.Parallel()
	e := store.Endpoint{Secret: "s3", PreviousSecrets: []store.PreviousSecret{
		{Secret: "s2", ExpiresAt: now.Add(time.Hour)},
		// An older secret whose grace outlasts the newer one's.
		{Secret: "s1", ExpiresAt: now.Add(3 * time.Hour)},
		{Secret: "s0", ExpiresAt: now},
	}}
	for _, c := range []struct {
		name string
		at   time.Time
		want []string
	}{
		{"while both run", now.Add(-time.Minute), []string{"s3", "s2", "s1", "s0"}},
		{"at the end of one", now, []string{"s3", "s2", "s1"}},
		{"after the newer one's", now.Add(2 * time.Hour), []string{"s3", "s1"}},
		{"after them all", now.Add(3 * time.Hour), []string{"s3"}},
	} {
		if got := e.SigningSecrets(c.at); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: SigningSecrets = %v, want %v", c.name, got, c.want)
		}
	}
	if got := (&store.Endpoint{Secret: "only"}).SigningSecrets(now); !reflect.DeepEqual(got, []string{"only"}) {
		t.Errorf("no rotation: %v", got)
	}
}
