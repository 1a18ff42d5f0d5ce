package postgres

import (
	"context"
	"encoding/json"
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
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook",
		Events: []string{"*"}, Secret: "whsec_test", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	now := store.Timestamp(time.Now())
	for _, id := range []string{"e1", "e2"} {
		if _, err := st.EventCreate(ctx, &store.EventCreateParams{Now: now, Event: &store.Event{
			TenantID: "acme", ID: id, Type: "x", Data: json.RawMessage(`{}`), Hash: "h" + id, Source: store.SourceAPI,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "me", Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 10})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d (%v), want 2", len(claimed), err)
	}
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
