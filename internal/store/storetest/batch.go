package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// One batch holds every kind of answer, and each event gets its own: a
// refused event never undoes its neighbours, and nothing of a refused
// event is stored.
func testEventCreateManyAnswersEachEvent(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "beta")
	epA := mkEndpoint(t, st, "acme", filters("user.*"))
	epB := mkEndpoint(t, st, "beta", filters("*"))
	before := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "e-old", "user.created", `{"v":1}`), Now: t0})).must(t)
	key := do(st.KeyCreate(ctx, &store.Key{ID: "key_live", TenantID: "acme", Name: "ci", Hash: "h-live", CreatedAt: t0})).must(t)

	ps := []*store.EventCreateParams{
		{Event: newEvent("acme", "e1", "user.created", `{"n":1}`), Now: t0},                      // new, one delivery
		{Event: newEvent("nobody", "e2", "user.created", `{}`), Now: t0},                         // tenant missing
		{Event: newEvent("acme", "e-old", "user.created", `{"v":1}`), Now: t0},                   // re-post, same content
		{Event: newEvent("acme", "e-old", "user.created", `{"v":2}`), Now: t0},                   // re-post, other content
		{Event: newEvent("beta", "e1", "order.paid", `{"n":2}`), Now: t0},                        // same id, other tenant
		{Event: newEvent("acme", "e3", "order.paid", `{}`), Now: t0},                             // new, matches nothing
		{Event: newEvent("acme", "e4", "x", `{}`), EndpointIDs: []string{"ep_missing"}, Now: t0}, // test send to nothing
		{Event: newEvent("acme", "e5", "user.deleted", `{}`), KeyID: key.ID, Now: t0},            // new, one delivery, its key there
		{Event: newEvent("acme", "e6", "user.created", `{}`), KeyID: "key_gone", Now: t0},        // its key deleted
	}
	out := createMany(t, st, ps, nil)
	if len(out) != len(ps) {
		t.Fatalf("EventCreateMany answered %d events of %d", len(out), len(ps))
	}
	for _, i := range []int{0, 4, 7} {
		if out[i].Err != nil || !out[i].Result.Created || len(out[i].Result.Deliveries) != 1 {
			t.Fatalf("event %d: %+v, want created with one delivery", i, out[i])
		}
	}
	if got := out[0].Result.Deliveries[0]; got.EndpointID != epA.ID || got.Status != store.StatusPending || got.NextAttemptAt == nil {
		t.Errorf("e1's delivery = %+v, want pending at %s", got, epA.ID)
	}
	if got := out[4].Result.Deliveries[0]; got.EndpointID != epB.ID || got.TenantID != "beta" {
		t.Errorf("beta's e1 delivery = %+v, want beta's endpoint %s", got, epB.ID)
	}
	wantErr(t, out[1].Err, store.ErrNotFound, "an event of a missing tenant")
	if out[2].Err != nil || out[2].Result.Created || len(out[2].Result.Deliveries) != 1 ||
		out[2].Result.Deliveries[0].ID != before.Deliveries[0].ID {
		t.Errorf("re-post of e-old = %+v, want the stored event and its delivery %s", out[2], before.Deliveries[0].ID)
	}
	wantErr(t, out[3].Err, store.ErrConflict, "an id reused with other content")
	if out[5].Err != nil || !out[5].Result.Created || len(out[5].Result.Deliveries) != 0 {
		t.Errorf("e3 = %+v, want created without deliveries", out[5])
	}
	wantErr(t, out[6].Err, store.ErrNotFound, "a test send to a missing endpoint")
	wantErr(t, out[8].Err, store.ErrUnauthorized, "an event posted with a deleted key")

	// What was answered is what is stored.
	for _, k := range [][2]string{{"acme", "e1"}, {"beta", "e1"}, {"acme", "e3"}, {"acme", "e5"}} {
		do(st.EventGet(ctx, k[0], k[1])).must(t)
	}
	_, err := st.EventGet(ctx, "acme", "e4")
	wantErr(t, err, store.ErrNotFound, "the refused test send's event")
	_, err = st.EventGet(ctx, "acme", "e6")
	wantErr(t, err, store.ErrNotFound, "the event of a deleted key")
	if ev := do(st.EventGet(ctx, "acme", "e-old")).must(t); string(ev.Data) != `{"v":1}` {
		t.Errorf("e-old data = %s after a conflicting re-post, want the first {\"v\":1}", ev.Data)
	}
	got := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{})).must(t)
	if len(got) != 3 { // e-old, e1, e5
		t.Errorf("acme has %d deliveries, want 3", len(got))
	}
	for _, d := range out[0].Result.Deliveries {
		stored := do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
		if stored.Status != d.Status || !stored.CreatedAt.Equal(d.CreatedAt) {
			t.Errorf("stored delivery %+v, answered %+v", stored, d)
		}
	}
}

// The same event twice in one batch is stored once; the repeat is a re-post
// of the first (its deliveries, Created false) or, with other content, a
// conflict of its own.
func testEventCreateManyRepeatsInOneBatch(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	mkEndpoint(t, st, "acme")
	out := createMany(t, st, []*store.EventCreateParams{
		{Event: newEvent("acme", "dup", "user.created", `{}`), Now: t0},
		{Event: newEvent("acme", "dup", "user.created", `{}`), Now: t0},
		{Event: newEvent("acme", "dup", "user.created", `{"other":true}`), Now: t0},
	}, nil)
	if out[0].Err != nil || !out[0].Result.Created || len(out[0].Result.Deliveries) != 2 {
		t.Fatalf("first = %+v, want created with two deliveries", out[0])
	}
	if out[1].Err != nil || out[1].Result.Created ||
		!sameIDs(out[1].Result.Deliveries, out[0].Result.Deliveries) {
		t.Errorf("repeat = %+v, want the first's deliveries and Created false", out[1])
	}
	wantErr(t, out[2].Err, store.ErrConflict, "a repeat with other content")
	if got := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{})).must(t); len(got) != 2 {
		t.Errorf("%d deliveries stored, want 2", len(got))
	}
}

func sameIDs(a, b []*store.Delivery) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// createMany is EventCreateMany that must succeed as a transaction; it
// fails the test if something was handed off without a hand-off asked for.
func createMany(t *testing.T, st store.Store, ps []*store.EventCreateParams, h *store.HandOff) []store.EventCreateOutcome {
	t.Helper()
	out, handed, err := st.EventCreateMany(ctxT(t), ps, h)
	if err != nil {
		t.Fatalf("EventCreateMany: %v", err)
	}
	if h == nil && len(handed) != 0 {
		t.Fatalf("EventCreateMany without a hand-off handed %d deliveries", len(handed))
	}
	return out
}

// A hand-off leases new deliveries to the ingesting node, at most its
// limit, each endpoint held to the room its cap leaves (counting leases
// claimed before), oldest first; the rest stay pending for the claim, and
// the leased ones are claimed again once their lease runs out.
func testEventCreateManyHandsOff(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	a := mkEndpoint(t, st, "acme", filters("a"))
	b := mkEndpoint(t, st, "acme", filters("b"), func(e *store.Endpoint) { e.MaxInFlight = 1 })
	mkEvent(t, st, "acme", "a", t0)
	if got := claim(t, st, "other-node", t0, 10, 2); len(got) != 1 {
		t.Fatalf("claimed %d, want a's one delivery", len(got))
	}
	var ps []*store.EventCreateParams
	for i := range 3 {
		ps = append(ps, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("a%d", i), "a", `{}`), Now: t0.Add(time.Second)})
		ps = append(ps, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("b%d", i), "b", `{}`), Now: t0.Add(time.Second)})
	}
	until := store.Timestamp(t0.Add(time.Minute))
	out, handed, err := st.EventCreateMany(ctx, ps, &store.HandOff{Owner: "me", Until: until, Limit: 10, PerEndpoint: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := countBy(handed, byEndpoint)
	// a: cap 2, one lease held by the other node: room for 1. b: its own
	// cap 1.
	if n[a.ID] != 1 || n[b.ID] != 1 || len(handed) != 2 {
		t.Fatalf("handed %v, want one of a's and one of b's", n)
	}
	if handed[0].Event.ID != "a0" || handed[1].Event.ID != "b0" {
		t.Errorf("handed events %s, %s; want the oldest, a0 and b0", handed[0].Event.ID, handed[1].Event.ID)
	}
	for _, c := range handed {
		if c.Delivery.Status != store.StatusDelivering || c.Endpoint == nil || c.Endpoint.URL == "" || !c.LeaseUntil.Equal(until) {
			t.Errorf("handed %+v, want a delivering delivery with its endpoint, leased until %s", c, until)
		}
		stored := do(st.DeliveryGet(ctx, "acme", c.Delivery.ID)).must(t)
		if stored.Status != store.StatusDelivering {
			t.Errorf("stored handed delivery is %s, want delivering", stored.Status)
		}
	}
	pending := 0
	for _, o := range out {
		for _, d := range o.Result.Deliveries {
			if d.Status == store.StatusPending {
				pending++
			}
		}
	}
	if pending != 4 {
		t.Errorf("%d deliveries left pending, want 4", pending)
	}
	// Nothing more for the capped endpoints while the leases hold...
	if got := countBy(claim(t, st, "w", t0.Add(2*time.Second), 10, 2), byEndpoint); got[a.ID] != 0 || got[b.ID] != 0 {
		t.Errorf("claim beside the hand-off's leases: %v, want nothing (both endpoints at their cap)", got)
	}
	// ...and once they run out, the handed deliveries are claimed again:
	// a node that died with them loses nothing.
	// (Claimed and recorded in rounds: b's own cap lets one go at a time.)
	later := until.Add(2 * time.Minute)
	ids := map[string]bool{}
	for round := 0; round < 10; round++ {
		again := claim(t, st, "w", later, 10, 10)
		if len(again) == 0 {
			break
		}
		for _, c := range again {
			ids[c.Delivery.ID] = true
			record(t, st, "w", c.Delivery.ID, store.StatusDelivered, later, nil)
		}
	}
	for _, c := range handed {
		if !ids[c.Delivery.ID] {
			t.Errorf("handed delivery %s not claimed again after its lease ran out", c.Delivery.ID)
		}
	}
}

// A hand-off holds each tenant to its share too, counting the leases it
// holds already.
func testEventCreateManyHandsOffTenantShare(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	mkEndpoint(t, st, "acme", filters("a"))
	mkEndpoint(t, st, "acme", filters("a"))
	mkEndpoint(t, st, "other", filters("a"))
	mkEvent(t, st, "acme", "a", t0) // two deliveries
	if got := claim(t, st, "other-node", t0, 10, 10); len(got) != 2 {
		t.Fatalf("claimed %d, want acme's two deliveries", len(got))
	}
	var ps []*store.EventCreateParams
	for i := range 3 {
		ps = append(ps, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("a%d", i), "a", `{}`), Now: t0.Add(time.Second)})
		ps = append(ps, &store.EventCreateParams{Event: newEvent("other", fmt.Sprintf("o%d", i), "a", `{}`), Now: t0.Add(time.Second)})
	}
	until := store.Timestamp(t0.Add(time.Minute))
	_, handed, err := st.EventCreateMany(ctx, ps, &store.HandOff{Owner: "me", Until: until, Limit: 100, PerEndpoint: 10, PerTenant: 3})
	if err != nil {
		t.Fatal(err)
	}
	// acme: share 3, two leases held: room for 1. other: 3 of its 3.
	if n := countBy(handed, byTenant); n["acme"] != 1 || n["other"] != 3 {
		t.Fatalf("handed %v per tenant, want 1 of acme's and 3 of other's", n)
	}
}

// A hand-off gives turns as a claim does: one whose turn is beyond a
// second stays pending, due at its turn.
func testHandOffRateLimitTurns(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme", filters("a"), func(e *store.Endpoint) { e.RateLimit = 1 })
	now := store.Timestamp(t0)
	var ps []*store.EventCreateParams
	for i := range 3 {
		ps = append(ps, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("a%d", i), "a", `{}`), Now: now})
	}
	out, handed, err := st.EventCreateMany(ctx, ps, &store.HandOff{Owner: "me", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Turns run on the store's clock: the first at once, then a second apart.
	if len(handed) != 2 || !handed[0].NotBefore.IsZero() || handed[1].NotBefore.IsZero() {
		t.Fatalf("handed %d (turns %v), want 2: at once and in a second", len(handed), turnsOf(handed))
	}
	last := out[2].Result.Deliveries[0]
	if last.Status != store.StatusPending || last.NextAttemptAt == nil || last.NextAttemptAt.Sub(handed[1].NotBefore) != time.Second {
		t.Fatalf("the third delivery is %s due %v, want pending, due at its turn a second after %v",
			last.Status, last.NextAttemptAt, handed[1].NotBefore)
	}
}

func turnsOf(cs []*store.Claimed) []time.Time {
	var out []time.Time
	for _, c := range cs {
		out = append(out, c.NotBefore)
	}
	return out
}
