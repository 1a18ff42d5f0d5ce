package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// TestDeliveryClaimDue_ProbeSkipsTheLockWithoutRoom: while another
// transaction holds the claims' lock, a probing claim that finds no room
// (the one endpoint's cap full, a delivery due behind it) answers nothing
// at once instead of waiting for the lock; one that finds room, and a
// claim that does not probe, wait for it, and once it is released the
// probing claim takes what there is room for.
func TestDeliveryClaimDue_ProbeSkipsTheLockWithoutRoom(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, now := seedClaimed(ctx, t, st, 1) // the endpoint's one lease
	if _, err := st.EventCreate(ctx, &store.EventCreateParams{Now: now, Event: &store.Event{
		TenantID: "acme", ID: "due", Type: "x", Data: json.RawMessage(`{}`), Hash: "hdue", Source: store.SourceAPI,
	}}); err != nil {
		t.Fatal(err)
	}
	claim := func(ctx context.Context, probe bool, perEndpoint int) ([]*store.Claimed, error) {
		return st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
			Owner: "other", Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: perEndpoint, Probe: probe,
		})
	}
	held, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx)
	if _, err := held.Exec(ctx, lockClaimsSQL, lockClaim); err != nil {
		t.Fatal(err)
	}

	first, stop := context.WithTimeout(ctx, 10*time.Second)
	got, err := claim(first, true, 1)
	stop()
	if err != nil || len(got) != 0 {
		t.Fatalf("probing claim with the cap full: %d claimed, %v; want none, at once", len(got), err)
	}
	// The lock is what they wait for: neither can end while it is held.
	for _, c := range []struct {
		what  string
		probe bool
	}{{"a claim that does not probe", false}, {"a probing claim with room", true}} {
		short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		got, err := claim(short, c.probe, 2)
		stop()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s while the claims' lock is held: %d claimed, %v; want it to wait for the lock", c.what, len(got), err)
		}
	}
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := claim(ctx, true, 2); err != nil || len(got) != 1 || got[0].Delivery.EventID != "due" {
		t.Fatalf("probing claim with room, the lock free: %d claimed, %v; want the due delivery", len(got), err)
	}
}
