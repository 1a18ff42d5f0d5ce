package event_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/event"
	"github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// bundle is a Service over a real store with tenant "acme", which has one
// endpoint subscribed to user.*.
type bundle struct {
	svc   *event.Service
	types *eventtype.Service
	clock *clock.Fake
}

func setup(t *testing.T, st store.Store) *bundle {
	t.Helper()
	ctx := t.Context()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	now := clk.Now()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	if _, err := st.EndpointCreate(ctx, &store.Endpoint{
		ID: "ep_1", TenantID: "acme", URL: "https://example.com/hook", Events: []string{"user.*"},
		Format: "standard-webhooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	types := eventtype.NewService(&eventtype.Config{Store: st, Clock: clk})
	return &bundle{svc: event.NewService(&event.Config{Base: service.Base{Store: st, Clock: clk}, Types: types}), types: types, clock: clk}
}

func TestService_IngestStoresTheCanonicalEvent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)

		res, err := b.svc.Ingest(t.Context(), "acme", &event.IngestParams{Type: "user.created", Data: []byte(`{ "n": 1.50, "big": 12345678901234567890123, "s": "\u00e9" }`)})

		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		ev := res.Event
		if string(ev.Data) != `{"n":1.50,"big":12345678901234567890123,"s":"é"}` {
			t.Errorf("stored data %s, want the compact form with numbers as written", ev.Data)
		}
		if !res.Created || len(res.Deliveries) != 1 || res.Deliveries[0].EndpointID != "ep_1" {
			t.Errorf("created %v with %d deliveries, want a new event for ep_1", res.Created, len(res.Deliveries))
		}
		if !strings.HasPrefix(ev.ID, "evt_") || len(ev.TraceID) != 32 || ev.Source != store.SourceAPI || !ev.CreatedAt.Equal(b.clock.Now()) {
			t.Errorf("event %s, trace %q, source %s, created %v; want evt_..., a new trace id, api, %v", ev.ID, ev.TraceID, ev.Source, ev.CreatedAt, b.clock.Now())
		}
		// A type the endpoint does not subscribe to makes no delivery.
		res, err = b.svc.Ingest(t.Context(), "acme", &event.IngestParams{Type: "invoice.paid", Data: []byte(`{}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"})
		if err != nil || len(res.Deliveries) != 0 || res.Event.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("unsubscribed type: %+v, %v; want stored with no delivery, in the given trace", res, err)
		}
	})
}

func TestService_IngestOfAnIDAgain(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		p := &event.IngestParams{Type: "user.created", ID: "order-1", Data: []byte(`{"a":1}`)}
		if _, err := b.svc.Ingest(ctx, "acme", p); err != nil {
			t.Fatalf("first ingest: %v", err)
		}

		again, err := b.svc.Ingest(ctx, "acme", &event.IngestParams{Type: "user.created", ID: "order-1", Data: []byte(`{ "a": 1 }`)})
		if err != nil || again.Created || again.Event.ID != "order-1" {
			t.Fatalf("same event again: %+v, %v; want the stored one, not created", again, err)
		}
		_, err = b.svc.Ingest(ctx, "acme", &event.IngestParams{Type: "user.created", ID: "order-1", Data: []byte(`{"a":2}`)})
		var he *herald.Error
		if !errors.Is(err, herald.ErrConflict) || !errors.As(err, &he) || he.Message != "event id order-1 was already used for a different type or data" {
			t.Fatalf("other data under the id: %v, want ErrConflict naming the id", err)
		}
	})
}

func TestService_IngestNamesEveryFault(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		for _, tc := range []struct {
			p    event.IngestParams
			want []string
		}{
			{event.IngestParams{Type: "user created", ID: "a.b", Data: []byte(`[]`)}, []string{"type", "id", "data"}},
			{event.IngestParams{Type: "a.b", Data: []byte(`{"x": {"y": 1, "y": 2}}`)}, []string{"data.x.y"}},
			{event.IngestParams{Type: "a.b", Data: []byte(`{"x": [1, 1e999]}`)}, []string{"data.x[1]"}},
		} {
			_, err := b.svc.Ingest(ctx, "acme", &tc.p)
			if got := herald.Locations(err); !slices.Equal(got, tc.want) {
				t.Errorf("ingest %s %s: faults at %v, want %v", tc.p.Type, tc.p.Data, got, tc.want)
			}
		}
	})
}

func TestService_IngestHoldsTheEventToTheCatalog(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		if _, _, err := b.types.Put(ctx, &eventtype.Params{Name: "user.created", Schema: []byte(`{"required": ["id"]}`)}); err != nil {
			t.Fatal(err)
		}

		_, err := b.svc.Ingest(ctx, "acme", &event.IngestParams{Type: "user.created", Data: []byte(`{"name": "x"}`)})

		if got := herald.Locations(err); !slices.Equal(got, []string{"data"}) {
			t.Fatalf("data without the required id: faults at %v, want [data]", got)
		}
		if _, err := b.svc.Ingest(ctx, "acme", &event.IngestParams{Type: "user.created", Data: []byte(`{"id": 7}`)}); err != nil {
			t.Fatalf("matching data: %v", err)
		}
	})
}

// Accepted hears of every event stored, once, and not of a re-post, a
// conflict or a refused event.
func TestService_IngestTellsAcceptedOfNewEventsOnly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		var mu sync.Mutex
		var heard []string
		svc := event.NewService(&event.Config{Base: service.Base{Store: st, Clock: b.clock}, Types: b.types, Accepted: func(tenantID string) {
			mu.Lock()
			heard = append(heard, tenantID)
			mu.Unlock()
		}})
		ctx := t.Context()
		p := &event.IngestParams{Type: "user.created", ID: "order-1", Data: []byte(`{"a":1}`)}
		if _, err := svc.Ingest(ctx, "acme", p); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Ingest(ctx, "acme", p); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Ingest(ctx, "acme", &event.IngestParams{Type: "user.created", ID: "order-1", Data: []byte(`{"a":2}`)}); err == nil {
			t.Fatal("other data under a used id was accepted")
		}
		if _, err := svc.Ingest(ctx, "acme", &event.IngestParams{Type: "bad type", Data: []byte(`{}`)}); err == nil {
			t.Fatal("an invalid type was accepted")
		}
		if _, err := svc.Ingest(ctx, "acme", &event.IngestParams{Type: "invoice.paid", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(heard, []string{"acme", "acme"}) {
			t.Errorf("Accepted heard %v, want acme twice: the new event and the one no endpoint wants", heard)
		}
	})
}

func TestService_CheckTestTakesACatalogTypeAndItsData(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		archived := true
		for _, p := range []eventtype.Params{
			{Name: "user.created", Schema: []byte(`{"required": ["id"], "properties": {"id": {"type": "string"}}}`)},
			{Name: "user.deleted"},
			{Name: "user.old", Archived: &archived},
		} {
			if _, _, err := b.types.Put(ctx, &p); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			p    event.TestParams
			data string // the canonical data returned
			want []string
		}{
			{"nothing: the format's test event", event.TestParams{}, "", nil},
			{"data alone", event.TestParams{Data: []byte(`{ "a": 1.50 }`)}, `{"a":1.50}`, nil},
			{"a type with a schema and matching data", event.TestParams{Type: "user.created", Data: []byte(`{"id": "u1"}`)}, `{"id":"u1"}`, nil},
			{"a type without a schema, no data", event.TestParams{Type: "user.deleted"}, "", nil},
			{"a type without a schema, any data", event.TestParams{Type: "user.deleted", Data: []byte(`{"x": [1]}`)}, `{"x":[1]}`, nil},
			{"data against the schema", event.TestParams{Type: "user.created", Data: []byte(`{"id": 7}`)}, "", []string{"data.id"}},
			{"a type with a schema, no data", event.TestParams{Type: "user.created"}, "", []string{"data"}},
			{"a type not in the catalog", event.TestParams{Type: "order.paid"}, "", []string{"type"}},
			{"an archived type", event.TestParams{Type: "user.old"}, "", []string{"type"}},
			{"no type name", event.TestParams{Type: "a..b"}, "", []string{"type"}},
			{"data not an object", event.TestParams{Data: []byte(`[1]`)}, "", []string{"data"}},
			{"duplicate keys", event.TestParams{Type: "user.deleted", Data: []byte(`{"a": 1, "a": 2}`)}, "", []string{"data.a"}},
			{"both wrong", event.TestParams{Type: "order.paid", Data: []byte(`5`)}, "", []string{"data", "type"}},
		} {
			data, err := b.svc.CheckTest(ctx, &tc.p)
			if got := herald.Locations(err); !slices.Equal(got, tc.want) {
				t.Errorf("%s: faults at %v (%v), want %v", tc.name, got, err, tc.want)
				continue
			}
			if err == nil && string(data) != tc.data {
				t.Errorf("%s: data %q, want %q", tc.name, data, tc.data)
			}
		}
	})
}

func TestService_ListRefusesBadFilters(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		now := b.clock.Now()
		_, err := b.svc.List(t.Context(), "acme", &store.EventListParams{Type: "a*", Since: now, Until: now.Add(-time.Second)})
		if got := herald.Locations(err); !slices.Equal(got, []string{"type", "until"}) {
			t.Fatalf("faults at %v, want [type until]", got)
		}
		if _, err := b.svc.Ingest(t.Context(), "acme", &event.IngestParams{Type: "user.created", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		rows, err := b.svc.List(t.Context(), "acme", &store.EventListParams{Since: now, Until: now.Add(time.Second)})
		if err != nil || len(rows) != 1 {
			t.Fatalf("List in a window = %d, %v; want the event", len(rows), err)
		}
		if rows, err := b.svc.List(t.Context(), "acme", &store.EventListParams{Since: now.Add(time.Second)}); err != nil || len(rows) != 0 {
			t.Fatalf("List after the event = %d, %v; want none", len(rows), err)
		}
	})
}
