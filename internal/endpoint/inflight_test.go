package endpoint_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// An endpoint may cap its own attempts in flight, from 0 (the server's cap)
// up to the server's cap, on create and on update.
func TestService_MaxInFlightIsHeldToTheServersCap(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st, func(c *endpoint.Config) { c.MaxInFlight = 16 })
		ctx := t.Context()

		e, _ := b.create(t, &endpoint.CreateParams{MaxInFlight: 4})
		if e.MaxInFlight != 4 {
			t.Fatalf("MaxInFlight = %d, want 4", e.MaxInFlight)
		}
		_, _, err := b.svc.Create(ctx, "acme", &endpoint.CreateParams{URL: "https://example.com/x", MaxInFlight: 17})
		if got := herald.Locations(err); !slices.Equal(got, []string{"max_in_flight"}) {
			t.Fatalf("max_in_flight 17 over a server cap of 16: faults at %v (%v), want [max_in_flight]", got, err)
		}
		for _, v := range []int{-1, 17} {
			_, err := b.svc.Update(ctx, "acme", e.ID, &endpoint.UpdateParams{MaxInFlight: &v})
			if got := herald.Locations(err); !slices.Equal(got, []string{"max_in_flight"}) {
				t.Errorf("update to %d: faults at %v, want [max_in_flight]", v, got)
			}
		}
		zero := 0
		got, err := b.svc.Update(ctx, "acme", e.ID, &endpoint.UpdateParams{MaxInFlight: &zero})
		if err != nil || got.MaxInFlight != 0 {
			t.Fatalf("update to 0 (the server's cap): %+v, %v", got, err)
		}
	})
}
