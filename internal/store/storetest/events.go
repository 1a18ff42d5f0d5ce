package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func endpointsOf(ds []*store.Delivery) []string {
	out := ids(ds, func(d *store.Delivery) string { return d.EndpointID })
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func testEventCreateMatchesFilters(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	all := mkEndpoint(t, st, "acme", filters("*"))
	users := mkEndpoint(t, st, "acme", filters("user.*"))
	exact := mkEndpoint(t, st, "acme", filters("order.paid", "user.created"))
	orders := mkEndpoint(t, st, "acme", filters("order.*"))
	prefix := mkEndpoint(t, st, "acme", filters("user"))         // not a wildcard: matches only "user"
	mkEndpoint(t, st, "acme", filters("never.*"), disabled)      // disabled: see EventCreateForDisabled
	mkEndpoint(t, st, "other", filters("*"))                     // another tenant's
	mkEndpoint(t, st, "acme", filters("user.created.v2.*"))      // deeper hierarchy
	deep := mkEndpoint(t, st, "acme", filters("user.created.*")) // matches user.created.v2 only

	for _, tc := range []struct {
		typ  string
		want []string
	}{
		{"user.created", sorted(all.ID, users.ID, exact.ID)},
		{"order.paid", sorted(all.ID, exact.ID, orders.ID)},
		{"user", sorted(all.ID, prefix.ID)},
		{"user.created.v2", sorted(all.ID, users.ID, deep.ID)},
		{"invoice.sent", sorted(all.ID)},
	} {
		res := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "", tc.typ, `{}`), Now: t0})).must(t)
		if !res.Created {
			t.Errorf("%s: Created = false for a new event", tc.typ)
		}
		wantIDs(t, tc.typ+" delivered to", endpointsOf(res.Deliveries), tc.want)
		for _, d := range res.Deliveries {
			if !strings.HasPrefix(d.ID, "dlv_") || d.TenantID != "acme" || d.EventID != res.Event.ID ||
				d.EventType != tc.typ || d.Status != store.StatusPending || d.Attempts != 0 || d.SeriesAttempts != 0 {
				t.Errorf("%s: delivery %+v, want a pending dlv_ delivery of this event", tc.typ, d)
			}
			sameTimePtr(t, "new delivery NextAttemptAt", d.NextAttemptAt, ptr(us(t0)))
			sameTime(t, "new delivery CreatedAt", d.CreatedAt, us(t0))
			read := do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
			if !reflect.DeepEqual(read, d) {
				t.Errorf("%s: DeliveryGet = %+v, want what EventCreate returned %+v", tc.typ, read, d)
			}
		}
	}
}

func testEventCreateExplicitEndpoints(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	on := mkEndpoint(t, st, "acme", filters("order.*"))
	off := mkEndpoint(t, st, "acme", disabled)
	mkEndpoint(t, st, "acme") // matches, but not named
	foreign := mkEndpoint(t, st, "other")

	res := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event:       newEvent("acme", "", "webhook.test", `{}`),
		EndpointIDs: []string{on.ID, off.ID, on.ID},
		Now:         t0,
	})).must(t)
	wantIDs(t, "explicit endpoints, enabled or not, filters ignored", endpointsOf(res.Deliveries), sorted(on.ID, off.ID))

	_, err := st.EventCreate(ctx, &store.EventCreateParams{
		Event:       newEvent("acme", "", "webhook.test", `{}`),
		EndpointIDs: []string{on.ID, foreign.ID},
		Now:         t0,
	})
	wantErr(t, err, store.ErrNotFound, "EventCreate naming another tenant's endpoint")

	empty := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", "webhook.test", `{}`), EndpointIDs: []string{}, Now: t0,
	})).must(t)
	if len(empty.Deliveries) != 0 {
		t.Errorf("EventCreate with an empty, non-nil endpoint list made %d deliveries, want 0", len(empty.Deliveries))
	}
}

func testEventCreateLeased(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	until := t0.Add(30 * time.Second)
	res := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event:       newEvent("acme", "", "webhook.test", `{}`),
		EndpointIDs: []string{ep.ID},
		Now:         t0,
		LeaseOwner:  "api-sync",
		LeaseUntil:  until,
	})).must(t)
	d := res.Deliveries[0]
	if d.Status != store.StatusDelivering {
		t.Fatalf("leased delivery status %q, want delivering", d.Status)
	}
	if got := claim(t, st, "worker", t0.Add(10*time.Second), 10, 10); len(got) != 0 {
		t.Fatalf("a worker claimed %v while the caller's lease runs, want nothing", deliveryIDs(got))
	}
	att := record(t, st, "api-sync", d.ID, store.StatusDelivered, t0.Add(time.Second), nil)
	if att.Number != 1 {
		t.Errorf("attempt number %d, want 1", att.Number)
	}
	if got := do(st.DeliveryGet(ctx, "acme", d.ID)).must(t); got.Status != store.StatusDelivered {
		t.Errorf("status after the caller recorded = %q, want delivered", got.Status)
	}

	// Had the caller died, the delivery is due again when its lease ends.
	res2 := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", "webhook.test", `{}`), EndpointIDs: []string{ep.ID},
		Now: t0, LeaseOwner: "api-sync", LeaseUntil: until,
	})).must(t)
	got := claim(t, st, "worker", until, 10, 10)
	wantIDs(t, "claimed after the sync lease expired", deliveryIDs(got), []string{res2.Deliveries[0].ID})
}

func testEventCreateIdempotent(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	mkEndpoint(t, st, "acme")
	mkEndpoint(t, st, "acme", filters("user.*"))
	mkEndpoint(t, st, "other")

	first := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "order-42", "user.created", `{"a":1}`), Now: t0})).must(t)
	if !first.Created || first.Event.ID != "order-42" || len(first.Deliveries) != 2 {
		t.Fatalf("first post: %+v, want created with the producer's id and 2 deliveries", first)
	}
	// An endpoint added later must not get a delivery from a re-post.
	mkEndpoint(t, st, "acme")

	again := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "order-42", "user.created", `{"a":1}`), Now: t0.Add(time.Minute)})).must(t)
	if again.Created {
		t.Error("re-post: Created = true, want false")
	}
	if !reflect.DeepEqual(again.Event, first.Event) {
		t.Errorf("re-post returned event %+v, want the stored %+v", again.Event, first.Event)
	}
	wantIDs(t, "re-post deliveries", ids(again.Deliveries, func(d *store.Delivery) string { return d.ID }),
		sorted(ids(first.Deliveries, func(d *store.Delivery) string { return d.ID })...))

	_, err := st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "order-42", "user.created", `{"a":2}`), Now: t0})
	wantErr(t, err, store.ErrConflict, "the same id with different content")

	// Ids are per tenant: another tenant may use the same one.
	other := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("other", "order-42", "user.created", `{"z":0}`), Now: t0})).must(t)
	if !other.Created {
		t.Error("another tenant's event with the same id: Created = false, want true")
	}

	list := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{EventID: "order-42"})).must(t)
	if len(list) != 2 {
		t.Errorf("deliveries of order-42 after re-posts: %d, want 2", len(list))
	}
}

func testEventCreateConcurrentDuplicates(t *testing.T, st store.Store) {
	concurrentDuplicates(t, []store.Store{st})
}

func testEventCreateDuplicatesAcrossNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	concurrentDuplicates(t, open(t, 2, true))
}

// concurrentDuplicates posts one event id from many goroutines at once,
// spread over the stores: exactly one creates it, every other gets it back.
func concurrentDuplicates(t *testing.T, stores []store.Store) {
	ctx := ctxT(t)
	st := stores[0]
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	mkEndpoint(t, st, "acme")
	const n = 12
	results := make([]*store.EventCreateResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = stores[i%len(stores)].EventCreate(ctx, &store.EventCreateParams{
				Event: newEvent("acme", "dup-1", "user.created", `{"x":1}`), Now: t0,
			})
		})
	}
	close(start)
	wg.Wait()
	created := 0
	var deliveries []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent post %d: %v, want success", i, errs[i])
		}
		if results[i].Created {
			created++
		}
		got := ids(results[i].Deliveries, func(d *store.Delivery) string { return d.ID })
		slices.Sort(got)
		if deliveries == nil {
			deliveries = got
		} else if !reflect.DeepEqual(got, deliveries) {
			t.Errorf("post %d saw deliveries %v, another saw %v; want the same two", i, got, deliveries)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent posts created the event, want exactly 1", created, n)
	}
	list := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{})).must(t)
	if len(list) != 2 || len(deliveries) != 2 {
		t.Errorf("stored %d deliveries (results show %d), want 2", len(list), len(deliveries))
	}
}

func testEventCreateKeepsDataBytes(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	// Key order, number spelling and escapes must survive exactly: these are
	// the bytes that get signed.
	data := `{"z":1,"a":1.0e2,"big":12345678901234567890123,"s":"\u00e9\u2028<>&","n":null,"f":-0.0}`
	res := do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "", "user.created", data), Now: t0})).must(t)
	if !strings.HasPrefix(res.Event.ID, "evt_") {
		t.Errorf("generated event id %q, want an evt_ id", res.Event.ID)
	}
	got := do(st.EventGet(ctx, "acme", res.Event.ID)).must(t)
	if string(got.Data) != data {
		t.Errorf("stored data\n got %s\nwant %s", got.Data, data)
	}
	c := claim(t, st, "w", t0, 1, 1)
	if len(c) != 1 || string(c[0].Event.Data) != data {
		t.Fatalf("claimed event data = %v, want %s", c, data)
	}
	want := newEvent("acme", res.Event.ID, "user.created", data)
	want.CreatedAt = us(t0)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventGet = %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(c[0].Event, want) {
		t.Errorf("claimed Event = %+v, want %+v", c[0].Event, want)
	}
}

func testEventCreateMissingTenant(t *testing.T, st store.Store) {
	_, err := st.EventCreate(ctxT(t), &store.EventCreateParams{Event: newEvent("ghost", "", "user.created", `{}`), Now: t0})
	wantErr(t, err, store.ErrNotFound, "EventCreate for a missing tenant")
}

func testEventGetList(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	var all, users []string
	for i := range 6 {
		typ := "user.created"
		if i%2 == 1 {
			typ = "order.paid"
		}
		res := do(st.EventCreate(ctx, &store.EventCreateParams{
			Event: newEvent("acme", fmt.Sprintf("e%d", i), typ, `{}`),
			Now:   t0.Add(time.Duration(i/2) * time.Second), // pairs share a time
		})).must(t)
		all = append([]string{res.Event.ID}, all...)
		if typ == "user.created" {
			users = append([]string{res.Event.ID}, users...)
		}
	}
	mkEvent(t, st, "other", "user.created", t0)

	got, pages := walk(t, 4, func(c string) ([]*store.Event, error) {
		return st.EventList(ctx, "acme", &store.EventListParams{ListParams: store.ListParams{Limit: 4, Cursor: c}})
	})
	wantIDs(t, "events, newest first", ids(got, func(e *store.Event) string { return e.ID }), all)
	if pages != 2 {
		t.Errorf("6 events by 4: %d pages, want 2", pages)
	}
	got, _ = walk(t, 1, func(c string) ([]*store.Event, error) {
		return st.EventList(ctx, "acme", &store.EventListParams{ListParams: store.ListParams{Limit: 1, Cursor: c}, Type: "user.created"})
	})
	wantIDs(t, "user.created events", ids(got, func(e *store.Event) string { return e.ID }), users)

	_, err := st.EventList(ctx, "acme", &store.EventListParams{ListParams: store.ListParams{Cursor: "zz"}})
	wantBadCursor(t, "EventList", err)
	_, err = st.EventGet(ctx, "acme", "nope")
	wantErr(t, err, store.ErrNotFound, "EventGet of a missing event")
	if e := do(st.EventGet(ctx, "acme", "e0")).must(t); string(e.Data) != "{}" || e.Type != "user.created" {
		t.Errorf("EventGet(e0) = %+v", e)
	}
}
