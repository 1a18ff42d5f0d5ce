package eventtype_test

import (
	"context"
	"errors"
	"slices"
	"strings"
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

func ptr[T any](v T) *T { return &v }

func TestService_PutCreatesThenChangesWhatItGives(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(st)
		ctx := t.Context()

		et, created, err := svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Description: ptr("d"), Schema: []byte(amountSchema)})
		if err != nil || !created {
			t.Fatalf("first put: created %v, %v; want created", created, err)
		}
		const compact = `{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"},"items":{"type":"array","items":{"type":"string"}}}}`
		if string(et.Schema) != compact {
			t.Errorf("stored schema %s, want it compact", et.Schema)
		}
		if !et.CreatedAt.Equal(clk.Now()) {
			t.Errorf("created at %v, want the clock's %v", et.CreatedAt, clk.Now())
		}
		// Archiving keeps everything else (issue 10: it wiped the schema
		// and the description).
		clk.Advance(time.Minute)
		et, created, err = svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Archived: ptr(true)})
		if err != nil || created || !et.Archived || et.Description != "d" || string(et.Schema) != compact {
			t.Fatalf("archiving put: %+v, created %v, %v; want archived with its description and schema", et, created, err)
		}
		if !et.UpdatedAt.Equal(clk.Now()) || et.CreatedAt.Equal(clk.Now()) {
			t.Errorf("archived: updated %v, created %v; want updated now, created before", et.UpdatedAt, et.CreatedAt)
		}
		et, created, err = svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Schema: []byte("null")})
		if err != nil || created || len(et.Schema) != 0 || !et.Archived || et.Description != "d" {
			t.Fatalf("put of a null schema: %+v, created %v, %v; want the schema removed, the rest kept", et, created, err)
		}
		got, err := svc.Get(ctx, "invoice.paid")
		if err != nil || !got.Archived {
			t.Fatalf("Get = %+v, %v; want the archived type", got, err)
		}
	})
}

func TestService_PatchAndDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		ctx := t.Context()
		_, err := svc.Patch(ctx, &eventtype.Params{Name: "invoice.paid", Archived: ptr(true)})
		if !errors.Is(err, herald.ErrNotFound) || err.Error() != "event type invoice.paid not found" {
			t.Fatalf("patch of a missing type: %v, want it named as not found", err)
		}
		if _, err := svc.Get(ctx, "invoice.paid"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("a patch created the type: %v", err)
		}
		if _, _, err := svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Description: ptr("d"), Schema: []byte(amountSchema)}); err != nil {
			t.Fatal(err)
		}
		et, err := svc.Patch(ctx, &eventtype.Params{Name: "invoice.paid", Description: ptr("paid")})
		if err != nil || et.Description != "paid" || len(et.Schema) == 0 || et.Archived {
			t.Fatalf("patch of the description: %+v, %v; want the new description, the schema kept", et, err)
		}
		if got := herald.Locations(svc.CheckEvent(ctx, "invoice.paid", []byte(`{}`))); !slices.Equal(got, []string{"data"}) {
			t.Fatalf("before delete: faults at %v, want the schema's at data", got)
		}
		// This node's patch takes effect here at once, whatever it cached.
		if _, err := svc.Patch(ctx, &eventtype.Params{Name: "invoice.paid", Archived: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount": 1}`)); !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "archived") {
			t.Fatalf("right after this node's patch: %v, want archived", err)
		}
		if _, err := svc.Patch(ctx, &eventtype.Params{Name: "invoice.paid", Archived: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Patch(ctx, &eventtype.Params{Name: "invoice.paid", Schema: []byte(`{"type": 1}`)}); !slices.Equal(herald.Locations(err), []string{"schema"}) {
			t.Fatalf("patch of a bad schema: %v, want a fault at schema", err)
		}

		if err := svc.Delete(ctx, "invoice.paid"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := svc.Delete(ctx, "invoice.paid"); !errors.Is(err, herald.ErrNotFound) || err.Error() != "event type invoice.paid not found" {
			t.Fatalf("second Delete: %v, want it named as not found", err)
		}
		// Out of the catalog, its events are accepted unchecked.
		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{}`)); err != nil {
			t.Fatalf("after delete: %v, want accepted", err)
		}
		// And made again with another schema, the new one holds.
		if _, _, err := svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Schema: []byte(`{"required": ["id"]}`)}); err != nil {
			t.Fatal(err)
		}
		if got := herald.Locations(svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount": 1}`))); !slices.Equal(got, []string{"data"}) {
			t.Fatalf("after re-creating: faults at %v, want the new schema's at data", got)
		}
	})
}

func TestService_PutRefusesWhatIsNotAType(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		for _, tc := range []struct {
			p    eventtype.Params
			want string
		}{
			{eventtype.Params{Name: "a..b"}, "name"},
			{eventtype.Params{Name: "a.b", Description: ptr("x\x00")}, "description"},
			{eventtype.Params{Name: "a.b", Schema: []byte(`{"type": `)}, "schema"},
			{eventtype.Params{Name: "a.b", Schema: []byte(`[1]`)}, "schema"},
			{eventtype.Params{Name: "a.b", Schema: []byte(`{"$ref": "https://example.com/s.json"}`)}, "schema"},
			{eventtype.Params{Name: "a.b", Schema: []byte(`{"$ref": "file:///etc/passwd"}`)}, "schema"},
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
		if _, _, err := svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Schema: []byte(amountSchema)}); err != nil {
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
		if _, _, err := svc.Put(ctx, &eventtype.Params{Name: "old.thing", Archived: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if got := herald.Locations(svc.CheckEvent(ctx, "old.thing", []byte(`{}`))); !slices.Equal(got, []string{"type"}) {
			t.Errorf("archived type: faults at %v, want [type]", got)
		}
	})
}

// A schema that refers to itself without going into the value compiles,
// but validating anything against it never gets past the cycle: every
// event of the type would be refused. It is refused at PUT instead, while
// recursion through properties and items, which ends with the data, is
// fine.
func TestService_PutRefusesASchemaThatRefersToItselfInPlace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		ctx := t.Context()
		for _, schema := range []string{
			`{"$ref": "#"}`,
			`{"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"anyOf": [{"type": "string"}, {"$ref": "#"}]}}}`,
			`{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}`,
			`{"not": {"$ref": "#"}}`,
			`{"if": {"$ref": "#"}, "then": true}`,
			`{"dependentSchemas": {"a": {"$ref": "#"}}}`,
			`{"$dynamicAnchor": "n", "$dynamicRef": "#n"}`,
			`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"allOf": [{"$ref": "#/definitions/a"}]}}, "$ref": "#/definitions/a"}`,
		} {
			_, _, err := svc.Put(ctx, &eventtype.Params{Name: "loops", Schema: []byte(schema)})
			if got := herald.Locations(err); !slices.Equal(got, []string{"schema"}) {
				t.Errorf("put schema %s: %v (faults at %v), want a fault at [schema]", schema, err, got)
			}
		}
		if _, err := svc.Get(ctx, "loops"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("after refusals: Get = %v, want ErrNotFound", err)
		}

		for name, tc := range map[string]struct{ schema, good, bad string }{
			"tree": {
				`{"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}}}`,
				`{"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}`,
				`{"name": "a", "children": [{"name": 1}]}`,
			},
			"list": {
				`{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "required": ["v"], "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}}}}}`,
				`{"v": 1, "next": {"v": 2, "next": {"v": 3}}}`,
				`{"v": 1, "next": {"next": {"v": 3}}}`,
			},
			"meta-schema": {
				`{"$ref": "https://json-schema.org/draft/2020-12/schema"}`,
				`{"type": "object"}`,
				`{"type": 5}`,
			},
		} {
			typ := "recursive." + strings.ReplaceAll(name, "-", "_")
			if _, _, err := svc.Put(ctx, &eventtype.Params{Name: typ, Schema: []byte(tc.schema)}); err != nil {
				t.Fatalf("%s: put %s: %v, want it accepted", name, tc.schema, err)
			}
			if err := svc.CheckEvent(ctx, typ, []byte(tc.good)); err != nil {
				t.Errorf("%s: CheckEvent(%s) = %v, want it to pass", name, tc.good, err)
			}
			if err := svc.CheckEvent(ctx, typ, []byte(tc.bad)); !errors.Is(err, herald.ErrInvalid) || len(herald.Locations(err)) == 0 {
				t.Errorf("%s: CheckEvent(%s) = %v, want a field fault", name, tc.bad, err)
			}
		}
	})
}

// countTypeReads counts the event-type reads made through it.
type countTypeReads struct {
	store.Store
	n *int
}

func (c countTypeReads) EventTypeGet(ctx context.Context, name string) (*store.EventType, error) {
	*c.n++
	return c.Store.EventTypeGet(ctx, name)
}

// CheckEvent reads a type once for a burst of events; a change made
// through this service takes effect at once, one made by another node
// (straight into the store) within the cache's two seconds.
func TestService_CheckEventCachesTypesBriefly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		reads := 0
		svc, clk := newService(countTypeReads{st, &reads})
		ctx := t.Context()
		for range 5 {
			if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{}`)); err != nil {
				t.Fatalf("a type not in the catalog: %v", err)
			}
		}
		if reads != 1 {
			t.Fatalf("%d reads for 5 events of one type, want 1", reads)
		}
		if _, _, err := svc.Put(ctx, &eventtype.Params{Name: "invoice.paid", Schema: []byte(amountSchema)}); err != nil {
			t.Fatal(err)
		}
		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{}`)); !errors.Is(err, herald.ErrInvalid) {
			t.Fatalf("right after this node's put: %v, want the schema's 422", err)
		}
		// Another node archives it.
		now := clk.Now()
		if _, err := st.EventTypePut(ctx, &store.EventType{Name: "invoice.paid", Archived: true, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount": 1}`)); err != nil {
			t.Fatalf("within the cache's life: %v, want the cached type's answer", err)
		}
		clk.Advance(2 * time.Second)
		if err := svc.CheckEvent(ctx, "invoice.paid", []byte(`{"amount": 1}`)); !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "archived") {
			t.Fatalf("after two seconds: %v, want archived", err)
		}
	})
}
