package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// deleteFinished runs one batch of retention.
func deleteFinished(t *testing.T, st store.Store, before time.Time, after store.EventPosition, limit int) *store.EventDeleteResult {
	t.Helper()
	return do(st.EventDeleteFinished(ctxT(t), &store.EventDeleteParams{Before: before, After: after, Limit: limit})).must(t)
}

// wantEvent checks that an event and its deliveries, with their attempts, are
// deleted or kept.
func wantEvent(t *testing.T, st store.Store, tenantID, eventID string, deliveryIDs []string, kept bool) {
	t.Helper()
	ctx := ctxT(t)
	_, err := st.EventGet(ctx, tenantID, eventID)
	if kept && err != nil {
		t.Errorf("event %s: %v, want it kept", eventID, err)
	}
	if !kept && err == nil {
		t.Errorf("event %s is still there, want it deleted", eventID)
	}
	for _, id := range deliveryIDs {
		_, err := st.DeliveryGet(ctx, tenantID, id)
		atts := do(st.DeliveryAttempts(ctx, id)).must(t)
		switch {
		case kept && err != nil:
			t.Errorf("delivery %s of kept event %s: %v", id, eventID, err)
		case !kept && (err == nil || len(atts) != 0):
			t.Errorf("delivery %s of deleted event %s: err %v, %d attempts; want both gone", id, eventID, err, len(atts))
		}
	}
}

func testEventDeleteFinished(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	ep1 := mkEndpoint(t, st, "acme", filters("x"))
	mkEndpoint(t, st, "acme", filters("x"))
	mkEndpoint(t, st, "acme", filters("none"))
	// An old event delivered to one endpoint and failed at the other.
	finished := do(st.EventCreate(ctxT(t), &store.EventCreateParams{
		Event: newEvent("acme", "", "x", "{}"), Now: t0, LeaseOwner: "w", LeaseUntil: t0.Add(time.Hour),
	})).must(t)
	record(t, st, "w", finished.Deliveries[0].ID, store.StatusDelivered, t0, nil)
	record(t, st, "w", finished.Deliveries[1].ID, store.StatusFailed, t0, nil)
	// An old event with one delivery still retrying.
	active := do(st.EventCreate(ctxT(t), &store.EventCreateParams{
		Event: newEvent("acme", "", "x", "{}"), Now: t0.Add(time.Second), LeaseOwner: "w", LeaseUntil: t0.Add(time.Hour),
	})).must(t)
	record(t, st, "w", active.Deliveries[0].ID, store.StatusDelivered, t0, nil)
	record(t, st, "w", active.Deliveries[1].ID, store.StatusRetrying, t0, ptr(t0.Add(time.Hour)))
	// An old event no endpoint wanted, and a recent finished one.
	none := mkEvent(t, st, "acme", "nobody.wants", t0.Add(2*time.Second))
	recent := settled(t, st, ep1, "x", t0.Add(2*time.Hour), store.StatusDelivered)
	recentEv := do(st.DeliveryGet(ctxT(t), "acme", recent)).must(t).EventID

	res := deleteFinished(t, st, t0.Add(time.Hour), store.EventPosition{}, 100)
	if res.Scanned != 3 || res.Events != 2 || res.Deliveries != 2 || res.Attempts != 2 || res.Done {
		t.Fatalf("retention batch %+v, want 3 scanned, 2 events with 2 deliveries and 2 attempts deleted", res)
	}
	// Newest first: the last looked at is the oldest.
	if res.Next.TenantID != "acme" || res.Next.ID != finished.Event.ID || !res.Next.TenantDone {
		t.Errorf("next position %+v, want acme done, after %s", res.Next, finished.Event.ID)
	}
	// The operator's tenant is walked too (its notices are events like
	// any tenant's): it has none here, and after it the walk is done.
	if op := deleteFinished(t, st, t0.Add(time.Hour), res.Next, 100); op.Done || op.Scanned != 0 || op.Next.TenantID != store.OperatorTenant {
		t.Errorf("the batch after acme %+v, want the operator's tenant, with nothing to look at", op)
	} else if end := deleteFinished(t, st, t0.Add(time.Hour), op.Next, 100); !end.Done || end.Scanned != 0 {
		t.Errorf("the batch after the last tenant %+v, want done", end)
	}
	wantEvent(t, st, "acme", finished.Event.ID, ids(finished.Deliveries, func(d *store.Delivery) string { return d.ID }), false)
	wantEvent(t, st, "acme", none.Event.ID, nil, false)
	wantEvent(t, st, "acme", active.Event.ID, ids(active.Deliveries, func(d *store.Delivery) string { return d.ID }), true)
	wantEvent(t, st, "acme", recentEv, []string{recent}, true)

	// Once the retrying delivery fails for good, its event goes too.
	cs := claim(t, st, "w", t0.Add(time.Hour), 10, 10)
	wantIDs(t, "claimed", deliveryIDs(cs), []string{active.Deliveries[1].ID})
	record(t, st, "w", cs[0].Delivery.ID, store.StatusFailed, t0.Add(time.Hour), nil)
	res = deleteFinished(t, st, t0.Add(time.Hour), store.EventPosition{}, 100)
	if res.Events != 1 || res.Deliveries != 2 || res.Attempts != 3 || res.Scanned != 1 {
		t.Errorf("second run %+v, want the now finished event with its 2 deliveries and 3 attempts", res)
	}
	wantEvent(t, st, "acme", active.Event.ID, ids(active.Deliveries, func(d *store.Delivery) string { return d.ID }), false)
	if _, err := st.EventDeleteFinished(ctxT(t), &store.EventDeleteParams{Before: t0}); err == nil {
		t.Error("a batch of no limit ran")
	}
}

// Batches walk the old events tenant by tenant, each batch after the
// last, across tenants that use the same event ids; a tenant's short
// batch ends its walk, and the batch after the last tenant is the end.
func testEventDeleteFinishedBatches(t *testing.T, st store.Store) {
	mkTenant(t, st, "a")
	mkTenant(t, st, "b")
	mkTenant(t, st, "c") // no events at all
	epA := mkEndpoint(t, st, "a", filters("none"))
	stuck := settled(t, st, epA, "x", t0, store.StatusPending)
	var evs []string
	for i := range 3 {
		for _, tn := range []string{"a", "b"} {
			ev := newEvent(tn, "same-"+string(rune('0'+i)), "x", "{}")
			evs = append(evs, do(st.EventCreate(ctxT(t), &store.EventCreateParams{Event: ev, Now: t0.Add(time.Duration(i) * time.Second)})).must(t).Event.ID)
		}
	}
	recent := mkEvent(t, st, "b", "x", t0.Add(2*time.Hour))
	cutoff := t0.Add(time.Hour)
	var pos store.EventPosition
	var scanned []int
	var tenants []string
	deleted := 0
	for {
		res := deleteFinished(t, st, cutoff, pos, 3)
		if res.Done {
			break
		}
		scanned, tenants = append(scanned, res.Scanned), append(tenants, res.Next.TenantID)
		deleted += res.Events
		pos = res.Next
		if len(scanned) > 20 {
			t.Fatal("retention never ends")
		}
	}
	// a: the 3 same-* (newest first), then stuck, short: a is done; b: 3,
	// then none, short; c: none; the operator's tenant: none.
	wantIDs(t, "tenants of the batches", tenants, []string{"a", "a", "b", "b", "c", store.OperatorTenant})
	if fmt.Sprint(scanned) != "[3 1 3 0 0 0]" {
		t.Fatalf("batches looked at %v events, want [3 1 3 0 0 0]", scanned)
	}
	if deleted != 6 {
		t.Errorf("deleted %d events, want the 6 finished ones", deleted)
	}
	for i, id := range evs {
		tn := "a"
		if i%2 == 1 {
			tn = "b"
		}
		wantEvent(t, st, tn, id, nil, false)
	}
	if statusOf(t, st, "a", stuck) != store.StatusPending {
		t.Error("the pending delivery's event was deleted")
	}
	wantEvent(t, st, "b", recent.Event.ID, nil, true)
}

// A failed delivery retried before retention runs keeps its event.
func testEventDeleteFinishedKeepsRetried(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	id := settled(t, st, ep, "x", t0, store.StatusFailed)
	do(st.DeliveryRetry(ctxT(t), "acme", id, t0.Add(time.Hour))).must(t)
	if res := deleteFinished(t, st, t0.Add(time.Hour), store.EventPosition{}, 10); res.Events != 0 || res.Scanned != 1 {
		t.Fatalf("retention %+v, want the retried delivery's event looked at and kept", res)
	}
	if statusOf(t, st, "acme", id) != store.StatusPending {
		t.Error("the retried delivery is no longer pending")
	}
}

// A deleted endpoint stays while any of its deliveries does, so they stay
// readable; once retention has deleted the last of them it is purged,
// with its hourly health, and a live endpoint never is.
func testEndpointPurgeDeleted(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	live := mkEndpoint(t, st, "acme", filters("none"))
	kept := mkEndpoint(t, st, "acme", filters("none"))
	bare := mkEndpoint(t, st, "acme", filters("none"))
	old := settled(t, st, kept, "x", t0, store.StatusDelivered)
	recent := settled(t, st, kept, "x", t0.Add(2*time.Hour), store.StatusFailed)
	settled(t, st, live, "x", t0, store.StatusDelivered)
	for _, ep := range []*store.Endpoint{kept, bare} {
		if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
			t.Fatal(err)
		}
	}
	purge := func(limit int) int {
		t.Helper()
		return do(st.EndpointPurgeDeleted(ctx, limit)).must(t)
	}
	// The one with no deliveries at all goes at once; the other keeps two.
	if n := purge(10); n != 1 {
		t.Fatalf("first purge removed %d endpoints, want 1 (the deleted one without deliveries)", n)
	}
	if n := purge(10); n != 0 {
		t.Fatalf("second purge removed %d, want none", n)
	}
	if _, err := st.DeliveryGet(ctx, "acme", old); err != nil {
		t.Fatalf("a delivery of the deleted endpoint: %v, want it readable until retention", err)
	}
	// Retention takes the old event: one delivery is left, and keeps it.
	deleteAll(t, st, t0.Add(time.Hour))
	if n := purge(10); n != 0 {
		t.Fatalf("purge with one delivery left removed %d endpoints, want none", n)
	}
	if d := do(st.DeliveryGet(ctx, "acme", recent)).must(t); !d.EndpointDeleted {
		t.Errorf("delivery %+v, want its endpoint marked deleted", d)
	}
	// And the last one.
	deleteAll(t, st, t0.Add(3*time.Hour))
	if n := purge(10); n != 1 {
		t.Fatalf("purge after the last delivery went removed %d endpoints, want 1", n)
	}
	if n := purge(10); n != 0 {
		t.Fatalf("purge again removed %d, want none", n)
	}
	// The live endpoint, and its delivered delivery's event now gone too,
	// stays.
	if _, err := st.EndpointGet(ctx, "acme", live.ID); err != nil {
		t.Fatalf("live endpoint: %v, want it kept", err)
	}
	if _, err := st.EndpointPurgeDeleted(ctx, 0); err == nil {
		t.Error("a purge of no limit ran")
	}
}

// deleteAll runs retention's batches from the start to the end.
func deleteAll(t *testing.T, st store.Store, before time.Time) {
	t.Helper()
	var pos store.EventPosition
	for range 100 {
		res := deleteFinished(t, st, before, pos, 10)
		if res.Done {
			return
		}
		pos = res.Next
	}
	t.Fatal("retention never ended")
}

func testLeaseTake(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	take := func(owner string, now time.Time) bool {
		t.Helper()
		return do(st.LeaseTake(ctx, &store.LeaseParams{Name: "retention", Owner: owner, Now: now, Until: now.Add(time.Minute)})).must(t)
	}
	if !take("a", t0) {
		t.Fatal("a did not get a free lease")
	}
	if take("b", t0.Add(30*time.Second)) {
		t.Fatal("b got a's lease while it ran")
	}
	if !take("a", t0.Add(30*time.Second)) {
		t.Fatal("a could not renew its own lease")
	}
	if take("b", t0.Add(89*time.Second)) {
		t.Fatal("b got a's renewed lease before it ran out")
	}
	if !take("b", t0.Add(90*time.Second)) {
		t.Fatal("b did not get the lease a let run out")
	}
	if !do(st.LeaseTake(ctx, &store.LeaseParams{Name: "other", Owner: "a", Now: t0, Until: t0.Add(time.Minute)})).must(t) {
		t.Fatal("a did not get another lease of another name")
	}
	if err := st.LeaseRelease(ctx, "retention", "a"); err != nil {
		t.Fatalf("releasing a lease one does not hold: %v, want nil", err)
	}
	if take("a", t0.Add(91*time.Second)) {
		t.Fatal("a's release of b's lease freed it")
	}
	if err := st.LeaseRelease(ctx, "retention", "b"); err != nil {
		t.Fatal(err)
	}
	if !take("a", t0.Add(92*time.Second)) {
		t.Fatal("a did not get the lease b released")
	}
	if _, err := st.LeaseTake(ctx, &store.LeaseParams{Name: "retention"}); err == nil {
		t.Error("a lease with no owner was taken")
	}
}

// Of several nodes taking a free lease at once, exactly one gets it.
func testLeaseTakeAcrossNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	const n = 4
	stores := open(t, n, true)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	got := make([]bool, n)
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() {
			got[i], errs[i] = s.LeaseTake(ctx, &store.LeaseParams{Name: "retention", Owner: tenantName(i), Now: t0, Until: t0.Add(time.Minute)})
		})
	}
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
		}
		if got[i] {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d nodes took the one lease, want exactly 1", won)
	}
}
