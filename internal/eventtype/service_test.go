package eventtype_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func newService(st store.Store) (*eventtype.Service, *clock.Fake) {
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	return eventtype.NewService(&eventtype.Config{Store: st, Clock: clk}), clk
}

const amountSchema = `{"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}}}}`

func TestService_PutCreatesThenReplaces(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(st)
		ctx := t.Context()

		et, created, err := svc.Put(ctx, &eventtype.PutParams{Name: "invoice.paid", Description: "d", Schema: []byte(amountSchema)})
		if err != nil || !created {
			t.Fatalf("first put: created %v, %v; want created", created, err)
		}
		if string(et.Schema) != `{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"},"items":{"type":"array","items":{"type":"string"}}}}` {
			t.Errorf("stored schema %s, want it compact", et.Schema)
		}
		if !et.CreatedAt.Equal(clk.Now()) {
			t.Errorf("created at %v, want the clock's %v", et.CreatedAt, clk.Now())
		}
		et, created, err = svc.Put(ctx, &eventtype.PutParams{Name: "invoice.paid", Schema: []byte("null"), Archived: true})
		if err != nil || created || len(et.Schema) != 0 || !et.Archived {
			t.Fatalf("second put: %+v, created %v, %v; want replaced, archived, without a schema", et, created, err)
		}
		got, err := svc.Get(ctx, "invoice.paid")
		if err != nil || !got.Archived {
			t.Fatalf("Get = %+v, %v; want the archived type", got, err)
		}
	})
}

func TestService_PutRefusesWhatIsNotAType(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		for _, tc := range []struct {
			p    eventtype.PutParams
			want string
		}{
			{eventtype.PutParams{Name: "a..b"}, "name"},
			{eventtype.PutParams{Name: "a.b", Description: "x\x00"}, "description"},
			{eventtype.PutParams{Name: "a.b", Schema: []byte(`{"type": `)}, "schema"},
			{eventtype.PutParams{Name: "a.b", Schema: []byte(`[1]`)}, "schema"},
			{eventtype.PutParams{Name: "a.b", Schema: []byte(`{"$ref": "https://example.com/s.json"}`)}, "schema"},
			{eventtype.PutParams{Name: "a.b", Schema: []byte(`{"$ref": "file:///etc/passwd"}`)}, "schema"},
		} {
			_, _, err := svc.Put(t.Context(), &tc.p)
			if got := herald.Locations(err); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("put %+v: faults at %v, want [%s]", tc.p, got, tc.want)
			}
		}
		if _, err := svc.Get(t.Context(), "a.b"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("after refusals: Get = %v, want ErrNotFound", err)
		}
	})
}

func TestService_CheckEventHoldsDataToTheSchema(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		ctx := t.Context()
		if _, _, err := svc.Put(ctx, &eventtype.PutParams{Name: "invoice.paid", Schema: []byte(amountSchema)}); err != nil {
			t.Fatal(err)
		}

		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount":12.5}`)); err != nil {
			t.Errorf("matching data: %v", err)
		}
		err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount":"12","items":["a",3]}`))
		if got, want := herald.Locations(err), []string{"data.amount", "data.items[1]"}; !slices.Equal(got, want) {
			t.Errorf("wrong data: faults at %v, want %v", got, want)
		}
		if err := svc.CheckEvent(ctx, "not.in.catalog", []byte(`{}`)); err != nil {
			t.Errorf("a type the catalog does not have: %v, want accepted", err)
		}
		if _, _, err := svc.Put(ctx, &eventtype.PutParams{Name: "old.thing", Archived: true}); err != nil {
			t.Fatal(err)
		}
		if got := herald.Locations(svc.CheckEvent(ctx, "old.thing", []byte(`{}`))); !slices.Equal(got, []string{"type"}) {
			t.Errorf("archived type: faults at %v, want [type]", got)
		}
	})
}
