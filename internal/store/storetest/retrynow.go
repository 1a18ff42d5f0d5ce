package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// sendMany stores n events of their own, each with one delivery to ep,
// created at the given time, in one transaction, and returns the
// deliveries' ids in order.
func sendMany(t *testing.T, st store.Store, ep *store.Endpoint, n int, at time.Time) []string {
	t.Helper()
	ps := make([]*store.EventCreateParams, n)
	for i := range ps {
		ps[i] = &store.EventCreateParams{Event: newEvent(ep.TenantID, "", "x", "{}"), EndpointIDs: []string{ep.ID}, Now: at}
	}
	out, _, err := st.EventCreateMany(ctxT(t), ps, nil)
	if err != nil {
		t.Fatalf("EventCreateMany: %v", err)
	}
	ids := make([]string, n)
	for i, o := range out {
		if o.Err != nil {
			t.Fatalf("event %d: %v", i, o.Err)
		}
		ids[i] = o.Result.Deliveries[0].ID
	}
	return ids
}

// recordAll claims every due delivery at now and records each as
// outcome(id) says: a status, and the next attempt when retrying. A nil
// outcome leaves the delivery delivering.
func recordAll(t *testing.T, st store.Store, now time.Time, outcome func(id string) (string, *time.Time)) {
	t.Helper()
	claimed := claim(t, st, "w", now, 100000, 100000)
	var ps []*store.AttemptRecordParams
	for _, c := range claimed {
		status, next := outcome(c.Delivery.ID)
		if status == "" {
			continue
		}
		ps = append(ps, &store.AttemptRecordParams{
			DeliveryID: c.Delivery.ID, Owner: "w", Status: status, NextAttemptAt: next, Now: now,
			Attempt: &store.Attempt{StartedAt: now, DurationMS: 1, ResponseCode: 503},
		})
	}
	for i, r := range do(st.DeliveryRecordAttempts(ctxT(t), ps)).must(t) {
		if r.Err != nil {
			t.Fatalf("record %s: %v", ps[i].DeliveryID, r.Err)
		}
	}
}

// DeliveryRetryNow brings forward exactly the endpoint's retrying
// deliveries that are due later, each once, across batch boundaries that
// fall between deliveries due at the same time.
func testRetryNow(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	ep2 := mkEndpoint(t, st, "acme", filters("none"))
	otherEP := mkEndpoint(t, st, "other", filters("none"))

	ids := sendMany(t, st, ep, 14, t0)
	ep2IDs := sendMany(t, st, ep2, 2, t0)
	sendMany(t, st, otherEP, 2, t0)
	now := t0.Add(30 * time.Second) // before the in-flight lease expires
	later := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	// ids[0:10]: retrying, due later, five pairs due at the same time, so
	// batches of 3 end between two deliveries due at once. ids[10]: retrying
	// and due already. ids[11]: failed, ids[12]: delivered, ids[13]: left
	// delivering (an attempt in flight).
	want := map[string]*time.Time{}
	recordAll(t, st, t0, func(id string) (string, *time.Time) {
		for i, d := range ids {
			if d != id {
				continue
			}
			switch {
			case i < 10:
				want[id] = later(time.Duration(i/2+1) * time.Hour)
				return store.StatusRetrying, want[id]
			case i == 10:
				return store.StatusRetrying, later(10 * time.Second)
			case i == 11:
				return store.StatusFailed, nil
			case i == 12:
				return store.StatusDelivered, nil
			}
			return "", nil
		}
		return store.StatusRetrying, later(time.Hour) // ep2's and the other tenant's
	})
	before := map[string]*store.Delivery{}
	for _, id := range append(append([]string{}, ids...), ep2IDs...) {
		before[id] = do(st.DeliveryGet(ctx, "acme", id)).must(t)
	}

	var n int
	listenOnce(t, st, st, "DeliveryRetryNow", func(st store.Store) {
		n = do(st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: ep.ID, Now: now, Batch: 3})).must(t)
	})
	if n != 10 {
		t.Errorf("moved %d, want 10 (the retrying deliveries due after now)", n)
	}
	for id, b := range before {
		d := do(st.DeliveryGet(ctx, "acme", id)).must(t)
		if _, moved := want[id]; moved {
			if d.Status != store.StatusRetrying || d.SeriesAttempts != 1 || d.Attempts != 1 {
				t.Errorf("moved %s: %+v, want still retrying with its series", id, d)
			}
			sameTimePtr(t, "NextAttemptAt of a moved delivery", d.NextAttemptAt, ptr(us(now)))
			continue
		}
		if d.Status != b.Status || !d.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("%s (not to be moved) changed: %+v, was %+v", id, d, b)
		}
		sameTimePtr(t, "NextAttemptAt of a delivery not moved", d.NextAttemptAt, b.NextAttemptAt)
	}
	if got := claim(t, st, "w2", now, 100, 100); len(got) != 11 {
		t.Errorf("claimed %d at now, want the 10 moved and the one due already", len(got))
	}

	if n := do(st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: ep.ID, Now: now})).must(t); n != 0 {
		t.Errorf("second retry-now moved %d, want 0", n)
	}
	_, err := st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: "ep_missing", Now: now})
	wantErr(t, err, store.ErrNotFound, "retry-now of a missing endpoint")
	_, err = st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: otherEP.ID, Now: now})
	wantErr(t, err, store.ErrNotFound, "retry-now of another tenant's endpoint")
}

// A backlog larger than a batch is moved whole, in several transactions,
// every delivery once, including a run of deliveries due at one time that
// spans a batch boundary.
func testRetryNowMany(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	const n = 2500
	sendMany(t, st, ep, n, t0)
	i := 0
	recordAll(t, st, t0, func(string) (string, *time.Time) {
		// 400 distinct due times, so ties run across the batch of 1000.
		next := t0.Add(time.Hour + time.Duration(i%400)*time.Second)
		i++
		return store.StatusRetrying, &next
	})
	now := t0.Add(time.Minute)
	got := do(st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: ep.ID, Now: now})).must(t)
	if got != n {
		t.Fatalf("moved %d, want %d", got, n)
	}
	rows, _ := walk(t, 250, func(c string) ([]*store.Delivery, error) {
		return st.DeliveryList(ctx, "acme", &store.DeliveryListParams{ListParams: store.ListParams{Limit: 250, Cursor: c}, EndpointID: ep.ID})
	})
	if len(rows) != n {
		t.Fatalf("listed %d deliveries, want %d", len(rows), n)
	}
	for _, d := range rows {
		if d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(us(now)) || d.Status != store.StatusRetrying {
			t.Fatalf("after retry-now %s: %+v, want retrying, due at %v", d.ID, d, us(now))
		}
	}
}

// The list filters of issue 10: event type and a creation window, alone
// and with the others, each across pages.
func testDeliveryListFilters(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	ep1 := mkEndpoint(t, st, "acme")
	ep2 := mkEndpoint(t, st, "acme")
	mkEndpoint(t, st, "other")
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	var all []*store.Delivery
	for i := range 6 {
		typ := "user.created"
		if i%2 == 1 {
			typ = "order.paid"
		}
		all = append(all, mkEvent(t, st, "acme", typ, at(i)).Deliveries...)
		mkEvent(t, st, "other", typ, at(i))
	}
	// Fail ep1's deliveries of the first three events.
	recordAll(t, st, at(2), func(id string) (string, *time.Time) {
		for _, d := range all {
			if d.ID == id && d.EndpointID == ep1.ID {
				return store.StatusFailed, nil
			}
		}
		return store.StatusDelivered, nil
	})
	cur := map[string]*store.Delivery{}
	for _, d := range all {
		cur[d.ID] = do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
	}
	newestFirst := func(keep func(d *store.Delivery) bool) []string {
		var ds []*store.Delivery
		for _, d := range cur {
			if keep(d) {
				ds = append(ds, d)
			}
		}
		slices.SortFunc(ds, func(a, b *store.Delivery) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
		})
		return ids(ds, func(d *store.Delivery) string { return d.ID })
	}
	in := func(d *store.Delivery, since, until time.Time) bool {
		return !d.CreatedAt.Before(us(since)) && d.CreatedAt.Before(us(until))
	}
	for _, tc := range []struct {
		name string
		p    store.DeliveryListParams
		keep func(d *store.Delivery) bool
	}{
		{"order.paid", store.DeliveryListParams{EventType: "order.paid"}, func(d *store.Delivery) bool { return d.EventType == "order.paid" }},
		{"since 2s", store.DeliveryListParams{Since: at(2)}, func(d *store.Delivery) bool { return !d.CreatedAt.Before(us(at(2))) }},
		{"until 4s", store.DeliveryListParams{Until: at(4)}, func(d *store.Delivery) bool { return d.CreatedAt.Before(us(at(4))) }},
		{"1s to 4s", store.DeliveryListParams{Since: at(1), Until: at(4)}, func(d *store.Delivery) bool { return in(d, at(1), at(4)) }},
		{"user.created since 1s", store.DeliveryListParams{EventType: "user.created", Since: at(1)},
			func(d *store.Delivery) bool { return d.EventType == "user.created" && !d.CreatedAt.Before(us(at(1))) }},
		{"ep2 order.paid until 5s", store.DeliveryListParams{EndpointID: ep2.ID, EventType: "order.paid", Until: at(5)},
			func(d *store.Delivery) bool {
				return d.EndpointID == ep2.ID && d.EventType == "order.paid" && d.CreatedAt.Before(us(at(5)))
			}},
		{"failed user.created", store.DeliveryListParams{Status: store.StatusFailed, EventType: "user.created"},
			func(d *store.Delivery) bool { return d.Status == store.StatusFailed && d.EventType == "user.created" }},
		{"failed in 1s to 3s", store.DeliveryListParams{Status: store.StatusFailed, Since: at(1), Until: at(3)},
			func(d *store.Delivery) bool { return d.Status == store.StatusFailed && in(d, at(1), at(3)) }},
		{"event 3 since 3s", store.DeliveryListParams{EventID: all[6].EventID, Since: at(3)},
			func(d *store.Delivery) bool { return d.EventID == all[6].EventID }},
	} {
		want := newestFirst(tc.keep)
		if len(want) == 0 || len(want) == len(all) {
			t.Fatalf("%s: the fixture has %d such deliveries of %d, want some but not all", tc.name, len(want), len(all))
		}
		got, _ := walk(t, 2, func(c string) ([]*store.Delivery, error) {
			p := tc.p
			p.Limit, p.Cursor = 2, c
			return st.DeliveryList(ctx, "acme", &p)
		})
		wantIDs(t, "deliveries "+tc.name, ids(got, func(d *store.Delivery) string { return d.ID }), want)
	}
	for name, p := range map[string]store.DeliveryListParams{
		"an empty window": {Since: at(3), Until: at(3)},
		"a window after":  {Since: at(6)},
		"a type none has": {EventType: "user.deleted"},
		"a window before": {Until: at(0)},
	} {
		if got := do(st.DeliveryList(ctx, "acme", &p)).must(t); len(got) != 0 {
			t.Errorf("deliveries of %s: %d, want none", name, len(got))
		}
	}
}

func testEventListWindow(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	type ev struct {
		id, typ string
		at      time.Time
	}
	var all []ev
	for i := range 6 {
		typ := "user.created"
		if i%2 == 1 {
			typ = "order.paid"
		}
		// Pairs share a time; the ids order them within it.
		e := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("e%d", i), typ, `{}`), Now: at(i / 2 * 2)})).must(t).Event
		all = append([]ev{{e.ID, typ, e.CreatedAt}}, all...)
		mkEvent(t, st, "other", typ, at(i))
	}
	for _, tc := range []struct {
		name string
		p    store.EventListParams
		keep func(e ev) bool
	}{
		{"since 2s", store.EventListParams{Since: at(2)}, func(e ev) bool { return !e.at.Before(us(at(2))) }},
		{"until 4s", store.EventListParams{Until: at(4)}, func(e ev) bool { return e.at.Before(us(at(4))) }},
		{"2s to 4s", store.EventListParams{Since: at(2), Until: at(4)}, func(e ev) bool { return e.at.Equal(us(at(2))) }},
		{"order.paid since 1s", store.EventListParams{Type: "order.paid", Since: at(1)},
			func(e ev) bool { return e.typ == "order.paid" && !e.at.Before(us(at(1))) }},
	} {
		var want []string
		for _, e := range all {
			if tc.keep(e) {
				want = append(want, e.id)
			}
		}
		if len(want) == 0 || len(want) == len(all) {
			t.Fatalf("%s: the fixture has %d such events of %d, want some but not all", tc.name, len(want), len(all))
		}
		got, _ := walk(t, 1, func(c string) ([]*store.Event, error) {
			p := tc.p
			p.Limit, p.Cursor = 1, c
			return st.EventList(ctx, "acme", &p)
		})
		wantIDs(t, "events "+tc.name, ids(got, func(e *store.Event) string { return e.ID }), want)
	}
}
