package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// noClaims is a real store whose claims find nothing: a delivery it
// delivers can only have come by hand-off.
type noClaims struct{ store.Store }

func (noClaims) DeliveryClaimDue(context.Context, *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	return nil, nil
}

// Deliveries ingest leases to a running engine reach its workers without a
// claim; a stopped engine has no room, so ingest leaves everything to the
// claim.
func TestEngine_HandOffDeliversWithoutAClaim(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, noClaims{st})
		rc := newReceiver(t)
		ep := b.endpoint(t, rc.URL, []string{"*"})
		if room := b.engine.HandOffRoom(); room.Limit != 0 {
			t.Fatalf("room before Run = %+v, want none", room)
		}
		stop := b.run(t)
		var room store.HandOff
		waitFor(t, "the engine to have room", 10*time.Second, func() bool { room = b.engine.HandOffRoom(); return room.Limit > 0 })
		// The default tenant share, three quarters of the workers, of a
		// room for four times the workers.
		if room.PerEndpoint != delivery.DefaultPerEndpoint || room.PerTenant != 4*delivery.DefaultWorkers*3/4 ||
			room.Owner == "" || !room.Until.After(b.clock.Now()) {
			t.Fatalf("room = %+v, want the engine's lease, the default cap of %d and four times the default tenant share",
				room, delivery.DefaultPerEndpoint)
		}
		now := b.clock.Now()
		ev := &store.Event{
			TenantID: b.tenant, ID: id.NewAt(id.Event, now), Type: "user.created", Data: []byte(`{}`),
			Hash: "h", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Source: store.SourceAPI, CreatedAt: now,
		}
		_, handed, err := st.EventCreateMany(context.Background(), []*store.EventCreateParams{{Event: ev, Now: now}}, &room)
		if err != nil || len(handed) != 1 || handed[0].Endpoint.ID != ep.ID {
			t.Fatalf("EventCreateMany handed %v, %v; want the one delivery", handed, err)
		}
		b.engine.HandOff(handed, false)
		b.waitStatus(t, handed[0].Delivery.ID, store.StatusDelivered, 10*time.Second)
		if n := len(rc.got()); n != 1 {
			t.Fatalf("receiver got %d requests, want 1", n)
		}
		stop()
		if room := b.engine.HandOffRoom(); room.Limit != 0 {
			t.Fatalf("room after Run = %+v, want none", room)
		}
	})
}
