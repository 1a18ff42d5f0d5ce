package storetest

import (
	"testing"

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

	ps := []*store.EventCreateParams{
		{Event: newEvent("acme", "e1", "user.created", `{"n":1}`), Now: t0},                      // new, one delivery
		{Event: newEvent("nobody", "e2", "user.created", `{}`), Now: t0},                         // tenant missing
		{Event: newEvent("acme", "e-old", "user.created", `{"v":1}`), Now: t0},                   // re-post, same content
		{Event: newEvent("acme", "e-old", "user.created", `{"v":2}`), Now: t0},                   // re-post, other content
		{Event: newEvent("beta", "e1", "order.paid", `{"n":2}`), Now: t0},                        // same id, other tenant
		{Event: newEvent("acme", "e3", "order.paid", `{}`), Now: t0},                             // new, matches nothing
		{Event: newEvent("acme", "e4", "x", `{}`), EndpointIDs: []string{"ep_missing"}, Now: t0}, // test send to nothing
		{Event: newEvent("acme", "e5", "user.deleted", `{}`), Now: t0},                           // new, one delivery
	}
	out := do(st.EventCreateMany(ctx, ps)).must(t)
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

	// What was answered is what is stored.
	for _, k := range [][2]string{{"acme", "e1"}, {"beta", "e1"}, {"acme", "e3"}, {"acme", "e5"}} {
		do(st.EventGet(ctx, k[0], k[1])).must(t)
	}
	_, err := st.EventGet(ctx, "acme", "e4")
	wantErr(t, err, store.ErrNotFound, "the refused test send's event")
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
	out := do(st.EventCreateMany(ctx, []*store.EventCreateParams{
		{Event: newEvent("acme", "dup", "user.created", `{}`), Now: t0},
		{Event: newEvent("acme", "dup", "user.created", `{}`), Now: t0},
		{Event: newEvent("acme", "dup", "user.created", `{"other":true}`), Now: t0},
	})).must(t)
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
