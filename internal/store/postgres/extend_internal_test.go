package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The heartbeat's lease extension skips a delivery another transaction
// has locked (a batch recording it) instead of waiting: waiting, the two
// took the rows in different orders and deadlocked, a second's stall
// each time.
func TestDeliveryExtendLeases_SkipsLockedRows(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, claimed, now := seedClaimed(ctx, t, st, 2)
	ids := []string{claimed[0].Delivery.ID, claimed[1].Delivery.ID}

	// Another transaction holds the first one's row, as a record does.
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	extendCtx, cancelExtend := context.WithTimeout(ctx, 5*time.Second)
	defer cancelExtend()
	n, err := st.DeliveryExtendLeases(extendCtx, "me", ids, now.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("extend leases with one row locked elsewhere: %v (it waited for the lock)", err)
	}
	if n != 1 {
		t.Errorf("extended %d leases, want 1: the unlocked one, the locked one skipped", n)
	}
}

// seedClaimed makes tenant acme, an endpoint for every event type and n
// events, and claims their deliveries for owner "me" at now.
func seedClaimed(ctx context.Context, t *testing.T, st *Store, n int) (*store.Endpoint, []*store.Claimed, time.Time) {
	t.Helper()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook",
		Events: []string{"*"}, Secret: "whsec_test", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	now := store.Timestamp(time.Now())
	for i := range n {
		id := fmt.Sprintf("e%d", i)
		if _, err := st.EventCreate(ctx, &store.EventCreateParams{Now: now, Event: &store.Event{
			TenantID: "acme", ID: id, Type: "x", Data: json.RawMessage(`{}`), Hash: "h" + id, Source: store.SourceAPI,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "me", Now: now, Lease: time.Minute, Limit: n, PerEndpoint: n})
	if err != nil || len(claimed) != n {
		t.Fatalf("claimed %d (%v), want %d", len(claimed), err, n)
	}
	return ep, claimed, now
}
