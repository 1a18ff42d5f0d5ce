package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// finishAt makes an event of ep created at created, whose one delivery is
// recorded with status at at (one attempt), and returns the delivery.
func finishAt(t *testing.T, st store.Store, ep *store.Endpoint, created, at time.Time, status string) *store.Delivery {
	t.Helper()
	ctx := ctxT(t)
	res := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent(ep.TenantID, "", "order.paid", `{}`), EndpointIDs: []string{ep.ID},
		Now: created, LeaseOwner: "w", LeaseUntil: at.Add(time.Hour),
	})).must(t)
	d := res.Deliveries[0]
	var next *time.Time
	if status == store.StatusRetrying {
		next = ptr(at.Add(time.Hour))
	}
	record(t, st, "w", d.ID, status, at, next)
	return d
}

// testDeliveryFinishedCounts: each window counts the deliveries of every
// tenant that became delivered or failed in it, by the time they finished,
// its start included and its end not; waiting ones and one retried since
// are not counted, and one failed at once for a disabled endpoint is.
func testDeliveryFinishedCounts(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	acme, globex := mkEndpoint(t, st, "acme"), mkEndpoint(t, st, "globex")
	mkEndpoint(t, st, "globex", disabled)
	m := t0.Truncate(time.Minute)

	finishAt(t, st, acme, m, m.Add(10*time.Second), store.StatusDelivered)
	finishAt(t, st, acme, m, m.Add(20*time.Second), store.StatusDelivered)
	finishAt(t, st, acme, m, m.Add(30*time.Second), store.StatusFailed)
	finishAt(t, st, globex, m, m.Add(time.Minute-time.Microsecond), store.StatusDelivered)
	finishAt(t, st, acme, m, m.Add(15*time.Second), store.StatusRetrying)
	finishAt(t, st, acme, m, m.Add(65*time.Second), store.StatusDelivered)
	finishAt(t, st, globex, m, m.Add(2*time.Minute), store.StatusFailed)
	retried := finishAt(t, st, acme, m, m.Add(40*time.Second), store.StatusDelivered)
	do(st.DeliveryRetry(ctx, "acme", retried.ID, m.Add(3*time.Minute))).must(t)
	// The disabled endpoint's delivery fails as its event comes.
	do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("globex", "", "order.paid", `{}`), Now: m.Add(90 * time.Second),
	})).must(t)

	ws := []store.Window{
		{Since: m, Until: m.Add(time.Minute)},
		{Since: m.Add(time.Minute), Until: m.Add(2 * time.Minute)},
		{Since: m.Add(2 * time.Minute), Until: m.Add(3 * time.Minute)},
		{Since: m, Until: m.Add(time.Hour)},
		{Since: m.Add(time.Hour), Until: m.Add(2 * time.Hour)},
		{Since: m, Until: m},
	}
	got := do(st.DeliveryFinishedCounts(ctx, ws)).must(t)
	want := []store.FinishedCount{{Delivered: 3, Failed: 1}, {Delivered: 1, Failed: 1}, {Failed: 1}, {Delivered: 4, Failed: 3}, {}, {}}
	if !slices.Equal(got, want) {
		t.Errorf("DeliveryFinishedCounts = %v, want %v (delivered, failed) by window", got, want)
	}
	if none := do(st.DeliveryFinishedCounts(ctx, nil)).must(t); len(none) != 0 {
		t.Errorf("DeliveryFinishedCounts of no windows = %v, want none", none)
	}
	if _, err := st.DeliveryFinishedCounts(ctx, make([]store.Window, store.MaxFinishedWindows+1)); err == nil {
		t.Errorf("DeliveryFinishedCounts of %d windows: no error, want one", store.MaxFinishedWindows+1)
	}
}

// testDeliveryLatencies: from each delivered delivery's event to its
// delivery, the latest delivered first, since the given time, at most the
// limit; failed and waiting deliveries have none.
func testDeliveryLatencies(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	acme, globex := mkEndpoint(t, st, "acme"), mkEndpoint(t, st, "globex")
	m := t0.Truncate(time.Minute)

	finishAt(t, st, acme, m, m.Add(2*time.Second), store.StatusDelivered)
	finishAt(t, st, globex, m.Add(time.Second), m.Add(5*time.Second), store.StatusDelivered)
	finishAt(t, st, acme, m.Add(-10*time.Minute), m.Add(3*time.Second), store.StatusDelivered)
	finishAt(t, st, acme, m, m.Add(4*time.Second), store.StatusFailed)
	finishAt(t, st, acme, m, m.Add(6*time.Second), store.StatusRetrying)
	finishAt(t, st, acme, m.Add(-time.Hour), m.Add(-time.Second), store.StatusDelivered) // before since

	got := do(st.DeliveryLatencies(ctx, m, 10)).must(t)
	want := []time.Duration{4 * time.Second, 10*time.Minute + 3*time.Second, 2 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("DeliveryLatencies since m = %v, want %v (the latest delivered first)", got, want)
	}
	if got := do(st.DeliveryLatencies(ctx, m, 2)).must(t); !slices.Equal(got, want[:2]) {
		t.Errorf("DeliveryLatencies, limit 2 = %v, want %v", got, want[:2])
	}
	if got := do(st.DeliveryLatencies(ctx, m.Add(time.Hour), 10)).must(t); len(got) != 0 {
		t.Errorf("DeliveryLatencies since an hour later = %v, want none", got)
	}
	if _, err := st.DeliveryLatencies(ctx, m, 0); err == nil {
		t.Error("DeliveryLatencies with limit 0: no error, want one")
	}
}

// testEndpointListDisabled: the disabled endpoints of every tenant, in id
// order, up to the limit; enabled and deleted ones are not listed.
func testEndpointListDisabled(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	mkEndpoint(t, st, "acme")
	a := mkEndpoint(t, st, "acme", disabled)
	gone := mkEndpoint(t, st, "acme", disabled)
	g := mkEndpoint(t, st, "globex", disabled)
	if err := st.EndpointDelete(ctx, "acme", gone.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{a.ID, g.ID}
	slices.Sort(want)
	got := do(st.EndpointListDisabled(ctx, 10)).must(t)
	wantIDs(t, "EndpointListDisabled", ids(got, func(e *store.Endpoint) string { return e.ID }), want)
	for _, e := range got {
		if e.DisabledReason != store.DisabledManual || e.DisabledAt == nil || e.TenantID == "" {
			t.Errorf("listed %s: reason %q, disabled at %v, tenant %q; want manual, a time, its tenant", e.ID, e.DisabledReason, e.DisabledAt, e.TenantID)
		}
	}
	one := do(st.EndpointListDisabled(ctx, 1)).must(t)
	wantIDs(t, "EndpointListDisabled, limit 1", ids(one, func(e *store.Endpoint) string { return e.ID }), want[:1])
	if _, err := st.EndpointListDisabled(ctx, 0); err == nil {
		t.Error("EndpointListDisabled with limit 0: no error, want one")
	}
}
