package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func testPing(t *testing.T, st store.Store) {
	if err := st.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
}

func testMigrateAgain(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate = %v, want nil", err)
	}
	if _, err := st.TenantGet(ctx, "acme"); err != nil {
		t.Fatalf("tenant after a second Migrate: %v, want it kept", err)
	}
}

func testTenantCreateGet(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	in := &store.Tenant{ID: "acme", Name: "Acme Inc", Metadata: json.RawMessage(`{"plan":"pro","seats":12}`), CreatedAt: t0}
	got := do(st.TenantCreate(ctx, in)).must(t)
	if got.ID != "acme" || got.Name != "Acme Inc" || string(got.Metadata) != `{"plan":"pro","seats":12}` {
		t.Errorf("TenantCreate returned %+v, want the tenant given", got)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt", got.UpdatedAt, us(t0))

	read := do(st.TenantGet(ctx, "acme")).must(t)
	if !reflect.DeepEqual(read, got) {
		t.Errorf("TenantGet = %+v, want what TenantCreate returned %+v", read, got)
	}

	_, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "again"})
	wantErr(t, err, store.ErrConflict, "TenantCreate with a taken id")

	_, err = st.TenantGet(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "TenantGet of a missing tenant")

	bare := do(st.TenantCreate(ctx, &store.Tenant{ID: "bare", Name: "Bare"})).must(t)
	if string(bare.Metadata) != "{}" {
		t.Errorf("Metadata of a tenant created without any = %s, want {}", bare.Metadata)
	}
	if bare.CreatedAt.IsZero() || bare.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt of a tenant created without one = %v, want the store's now in UTC", bare.CreatedAt)
	}
}

func testTenantUpdate(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	do(st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme", CreatedAt: t0})).must(t)
	later := t0.Add(time.Hour)
	got := do(st.TenantUpdate(ctx, &store.Tenant{ID: "acme", Name: "Acme 2", Metadata: json.RawMessage(`{"a":1}`), UpdatedAt: later})).must(t)
	if got.Name != "Acme 2" || string(got.Metadata) != `{"a":1}` {
		t.Errorf("TenantUpdate returned %+v, want the new name and metadata", got)
	}
	sameTime(t, "CreatedAt after update", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt after update", got.UpdatedAt, us(later))
	if read := do(st.TenantGet(ctx, "acme")).must(t); !reflect.DeepEqual(read, got) {
		t.Errorf("TenantGet after update = %+v, want %+v", read, got)
	}
	_, err := st.TenantUpdate(ctx, &store.Tenant{ID: "nobody", Name: "x"})
	wantErr(t, err, store.ErrNotFound, "TenantUpdate of a missing tenant")
}

func testTenantPortalOrigins(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	if got := do(st.TenantCreate(ctx, &store.Tenant{ID: "acme", CreatedAt: t0})).must(t); got.PortalOrigins != nil {
		t.Errorf("a new tenant's PortalOrigins = %q, want none", got.PortalOrigins)
	}
	origins := []string{"https://app.acme.example", "http://localhost:3000"}
	do(st.TenantCreate(ctx, &store.Tenant{ID: "globex", PortalOrigins: origins, CreatedAt: t0})).must(t)
	if got := do(st.TenantGet(ctx, "globex")).must(t); !reflect.DeepEqual(got.PortalOrigins, origins) {
		t.Errorf("TenantGet PortalOrigins = %q, want %q", got.PortalOrigins, origins)
	}
	got := do(st.TenantUpdate(ctx, &store.Tenant{ID: "acme", PortalOrigins: origins[:1], UpdatedAt: t0})).must(t)
	if !reflect.DeepEqual(got.PortalOrigins, origins[:1]) {
		t.Errorf("TenantUpdate PortalOrigins = %q, want %q", got.PortalOrigins, origins[:1])
	}
	if got := do(st.TenantUpdate(ctx, &store.Tenant{ID: "globex", UpdatedAt: t0})).must(t); got.PortalOrigins != nil {
		t.Errorf("PortalOrigins after setting none = %q, want none", got.PortalOrigins)
	}
}

func testSettingInit(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	if got := do(st.SettingInit(ctx, "portal_secret", "first")).must(t); got != "first" {
		t.Errorf("SettingInit of a new setting = %q, want the value given", got)
	}
	if got := do(st.SettingInit(ctx, "portal_secret", "second")).must(t); got != "first" {
		t.Errorf("SettingInit of a stored setting = %q, want the stored value %q", got, "first")
	}
	if got := do(st.SettingInit(ctx, "other", "x")).must(t); got != "x" {
		t.Errorf("SettingInit of another setting = %q, want its own value", got)
	}
}

func testTenantListPages(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	// Seven tenants; two pairs share a creation time, so the id must break
	// the tie for paging to be exact.
	var want []string
	for i := range 7 {
		at := t0.Add(time.Duration(i/2) * time.Second)
		do(st.TenantCreate(ctx, &store.Tenant{ID: tenantName(i), Name: "t", CreatedAt: at})).must(t)
		want = append([]string{tenantName(i)}, want...)
	}
	for _, limit := range []int{1, 2, 3, 7, 50} {
		all, pages := walk(t, limit, func(c string) ([]*store.Tenant, error) {
			return st.TenantList(ctx, &store.ListParams{Limit: limit, Cursor: c})
		})
		wantIDs(t, "tenants, newest first", ids(all, func(x *store.Tenant) string { return x.ID }), want)
		if wantPages := (7 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	first := do(st.TenantList(ctx, &store.ListParams{})).must(t)
	if len(first) != 7 {
		t.Errorf("TenantList with limit 0 returned %d tenants, want all 7 (the default page is 50)", len(first))
	}
	_, err := st.TenantList(ctx, &store.ListParams{Limit: 2, Cursor: "garbage!"})
	wantBadCursor(t, "TenantList", err)
}

func testTenantDeleteCascades(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	build := func(tenantID string) (key *store.Key, ep *store.Endpoint, ev *store.EventCreateResult) {
		mkTenant(t, st, tenantID)
		key = do(st.KeyCreate(ctx, &store.Key{TenantID: tenantID, Name: "k", Hash: "hash-" + tenantID})).must(t)
		ep = mkEndpoint(t, st, tenantID)
		ev = mkEvent(t, st, tenantID, "user.created", t0)
		if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: key.ID, Key: "k1", RequestHash: "h", Status: 202, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		return key, ep, ev
	}
	keyA, epA, evA := build("a")
	keyB, epB, evB := build("b")
	for _, c := range claim(t, st, "w", t0, 10, 10) {
		record(t, st, "w", c.Delivery.ID, store.StatusDelivered, t0, nil)
	}

	if err := st.TenantDelete(ctx, "a"); err != nil {
		t.Fatalf("TenantDelete: %v", err)
	}
	_, err := st.TenantGet(ctx, "a")
	wantErr(t, err, store.ErrNotFound, "TenantGet after delete")
	_, err = st.KeyGetByHash(ctx, keyA.Hash)
	wantErr(t, err, store.ErrNotFound, "the deleted tenant's key")
	_, err = st.EndpointGet(ctx, "a", epA.ID)
	wantErr(t, err, store.ErrNotFound, "the deleted tenant's endpoint")
	_, err = st.EventGet(ctx, "a", evA.Event.ID)
	wantErr(t, err, store.ErrNotFound, "the deleted tenant's event")
	_, err = st.DeliveryGet(ctx, "a", evA.Deliveries[0].ID)
	wantErr(t, err, store.ErrNotFound, "the deleted tenant's delivery")
	if atts := do(st.DeliveryAttempts(ctx, evA.Deliveries[0].ID)).must(t); len(atts) != 0 {
		t.Errorf("attempts of the deleted tenant's delivery: %d left, want 0", len(atts))
	}
	_, err = st.IdempotencyGet(ctx, keyA.ID, "k1")
	wantErr(t, err, store.ErrNotFound, "the deleted tenant's idempotency record")

	// The other tenant keeps everything.
	do(st.TenantGet(ctx, "b")).must(t)
	do(st.KeyGetByHash(ctx, keyB.Hash)).must(t)
	do(st.EndpointGet(ctx, "b", epB.ID)).must(t)
	do(st.EventGet(ctx, "b", evB.Event.ID)).must(t)
	do(st.DeliveryGet(ctx, "b", evB.Deliveries[0].ID)).must(t)
	if atts := do(st.DeliveryAttempts(ctx, evB.Deliveries[0].ID)).must(t); len(atts) != 1 {
		t.Errorf("attempts of the other tenant's delivery: %d, want 1", len(atts))
	}
	do(st.IdempotencyGet(ctx, keyB.ID, "k1")).must(t)

	wantErr(t, st.TenantDelete(ctx, "a"), store.ErrNotFound, "TenantDelete of a deleted tenant")
}

func testKeys(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	if ok := do(st.KeyAdminExists(ctx)).must(t); ok {
		t.Fatal("KeyAdminExists on an empty store = true, want false")
	}
	mkTenant(t, st, "acme")
	tk := do(st.KeyCreate(ctx, &store.Key{TenantID: "acme", Name: "ci", Hash: "h-tenant", CreatedAt: t0})).must(t)
	if len(tk.ID) < 5 || tk.ID[:4] != "key_" || tk.TenantID != "acme" || tk.Name != "ci" || tk.Hash != "h-tenant" {
		t.Errorf("KeyCreate returned %+v, want a key_ id and the fields given", tk)
	}
	sameTime(t, "key CreatedAt", tk.CreatedAt, us(t0))
	if ok := do(st.KeyAdminExists(ctx)).must(t); ok {
		t.Fatal("KeyAdminExists with only a tenant key = true, want false")
	}
	ak := do(st.KeyCreate(ctx, &store.Key{Name: "root", Hash: "h-admin"})).must(t)
	if ak.TenantID != "" {
		t.Errorf("admin key TenantID = %q, want empty", ak.TenantID)
	}
	if ok := do(st.KeyAdminExists(ctx)).must(t); !ok {
		t.Fatal("KeyAdminExists with an admin key = false, want true")
	}
	if got := do(st.KeyGetByHash(ctx, "h-tenant")).must(t); !reflect.DeepEqual(got, tk) {
		t.Errorf("KeyGetByHash = %+v, want %+v", got, tk)
	}
	if got := do(st.KeyGetByHash(ctx, "h-admin")).must(t); !reflect.DeepEqual(got, ak) {
		t.Errorf("KeyGetByHash(admin) = %+v, want %+v", got, ak)
	}
	_, err := st.KeyGetByHash(ctx, "h-none")
	wantErr(t, err, store.ErrNotFound, "KeyGetByHash of an unknown hash")
	_, err = st.KeyCreate(ctx, &store.Key{TenantID: "acme", Name: "dup", Hash: "h-tenant"})
	wantErr(t, err, store.ErrConflict, "KeyCreate with a stored hash")
	_, err = st.KeyCreate(ctx, &store.Key{TenantID: "ghost", Name: "x", Hash: "h-ghost"})
	wantErr(t, err, store.ErrNotFound, "KeyCreate for a missing tenant")
}

func testFormats(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	def1 := json.RawMessage(`{"body":{"b":1,"a":2}}`)
	created := do(st.FormatPut(ctx, &store.Format{Name: "slack", Definition: def1, UpdatedAt: t0})).must(t)
	if !created {
		t.Error("first FormatPut: created = false, want true")
	}
	got := do(st.FormatGet(ctx, "slack")).must(t)
	if got.Name != "slack" || string(got.Definition) != string(def1) {
		t.Errorf("FormatGet = %+v, want definition %s kept byte for byte", got, def1)
	}
	sameTime(t, "format CreatedAt", got.CreatedAt, us(t0))

	def2 := json.RawMessage(`{"body":{}}`)
	created = do(st.FormatPut(ctx, &store.Format{Name: "slack", Definition: def2, UpdatedAt: t0.Add(time.Minute)})).must(t)
	if created {
		t.Error("second FormatPut: created = true, want false")
	}
	got = do(st.FormatGet(ctx, "slack")).must(t)
	if string(got.Definition) != string(def2) {
		t.Errorf("definition after replace = %s, want %s", got.Definition, def2)
	}
	sameTime(t, "CreatedAt after replace", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt after replace", got.UpdatedAt, us(t0.Add(time.Minute)))

	do(st.FormatPut(ctx, &store.Format{Name: "acme-v1", Definition: def2})).must(t)
	list := do(st.FormatList(ctx)).must(t)
	wantIDs(t, "FormatList", ids(list, func(f *store.Format) string { return f.Name }), []string{"acme-v1", "slack"})

	if err := st.FormatDelete(ctx, "slack"); err != nil {
		t.Fatalf("FormatDelete: %v", err)
	}
	_, err := st.FormatGet(ctx, "slack")
	wantErr(t, err, store.ErrNotFound, "FormatGet after delete")
	wantErr(t, st.FormatDelete(ctx, "slack"), store.ErrNotFound, "FormatDelete of a missing format")
}

func testFormatDeleteInUse(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	do(st.FormatPut(ctx, &store.Format{Name: "mine", Definition: json.RawMessage(`{}`)})).must(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", func(e *store.Endpoint) { e.Format = "mine" })
	wantErr(t, st.FormatDelete(ctx, "mine"), store.ErrConflict, "FormatDelete of a format an endpoint uses")
	do(st.FormatGet(ctx, "mine")).must(t)

	// Every tenant's endpoints of that format, and only those.
	mkTenant(t, st, "globex")
	other := mkEndpoint(t, st, "globex", func(e *store.Endpoint) { e.Format = "mine" })
	mkEndpoint(t, st, "globex")
	users := do(st.EndpointListByFormat(ctx, "mine")).must(t)
	if len(users) != 2 || users[0].ID != ep.ID || users[1].ID != other.ID || users[1].TenantID != "globex" || users[0].Secret != ep.Secret {
		t.Errorf("EndpointListByFormat = %+v, want %s and %s, oldest first, with their secrets", users, ep.ID, other.ID)
	}
	if none := do(st.EndpointListByFormat(ctx, "unused")).must(t); len(none) != 0 {
		t.Errorf("EndpointListByFormat of an unused format = %d endpoints", len(none))
	}
	if err := st.EndpointDelete(ctx, "globex", other.ID); err != nil {
		t.Fatal(err)
	}

	ep.Format = ""
	do(st.EndpointUpdate(ctx, ep)).must(t)
	if err := st.FormatDelete(ctx, "mine"); err != nil {
		t.Fatalf("FormatDelete once no endpoint uses it: %v", err)
	}
}

func testEventTypes(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	schema := json.RawMessage(`{"type":"object","required":["id"]}`)
	got := do(st.EventTypePut(ctx, &store.EventType{Name: "user.created", Description: "A user signed up", Schema: schema, UpdatedAt: t0})).must(t)
	if got.Name != "user.created" || got.Description != "A user signed up" || string(got.Schema) != string(schema) || got.Archived {
		t.Errorf("EventTypePut returned %+v, want the type given", got)
	}
	sameTime(t, "event type CreatedAt", got.CreatedAt, us(t0))
	if read := do(st.EventTypeGet(ctx, "user.created")).must(t); !reflect.DeepEqual(read, got) {
		t.Errorf("EventTypeGet = %+v, want %+v", read, got)
	}

	upd := do(st.EventTypePut(ctx, &store.EventType{Name: "user.created", Description: "new", Archived: true, UpdatedAt: t0.Add(time.Hour)})).must(t)
	if upd.Schema != nil || !upd.Archived || upd.Description != "new" {
		t.Errorf("replaced event type = %+v, want no schema, archived, the new description", upd)
	}
	sameTime(t, "CreatedAt after replace", upd.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt after replace", upd.UpdatedAt, us(t0.Add(time.Hour)))

	_, err := st.EventTypeGet(ctx, "user.deleted")
	wantErr(t, err, store.ErrNotFound, "EventTypeGet of a missing type")

	for i, n := range []string{"a.one", "a.two", "b.one"} {
		do(st.EventTypePut(ctx, &store.EventType{Name: n, UpdatedAt: t0.Add(time.Duration(i+1) * time.Second)})).must(t)
	}
	all, _ := walk(t, 2, func(c string) ([]*store.EventType, error) {
		return st.EventTypeList(ctx, &store.ListParams{Limit: 2, Cursor: c})
	})
	wantIDs(t, "event types, newest first", ids(all, func(e *store.EventType) string { return e.Name }),
		[]string{"b.one", "a.two", "a.one", "user.created"})
	_, err = st.EventTypeList(ctx, &store.ListParams{Cursor: "%%%"})
	wantBadCursor(t, "EventTypeList", err)
}

func testIdempotency(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	_, err := st.IdempotencyGet(ctx, "key_1", "abc")
	wantErr(t, err, store.ErrNotFound, "IdempotencyGet of nothing")
	rec := &store.IdempotencyRecord{Scope: "key_1", Key: "abc", RequestHash: "rh", Status: 201, Body: []byte(`{"id":"ep_1"}`), CreatedAt: t0}
	if err := st.IdempotencyPut(ctx, rec); err != nil {
		t.Fatalf("IdempotencyPut: %v", err)
	}
	got := do(st.IdempotencyGet(ctx, "key_1", "abc")).must(t)
	if got.Scope != rec.Scope || got.Key != rec.Key || got.RequestHash != "rh" || got.Status != 201 || string(got.Body) != string(rec.Body) {
		t.Errorf("IdempotencyGet = %+v, want %+v", got, rec)
	}
	sameTime(t, "record CreatedAt", got.CreatedAt, us(t0))
	wantErr(t, st.IdempotencyPut(ctx, rec), store.ErrConflict, "IdempotencyPut of a stored key")
	// The same key under another scope (another caller) is another record.
	if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_2", Key: "abc", RequestHash: "x", Status: 200}); err != nil {
		t.Fatalf("IdempotencyPut under another scope: %v", err)
	}
}

// EventTypeUpdate changes only the fields it is given: archiving keeps the
// description and the schema (issue 10).
func testEventTypeUpdate(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	schema := json.RawMessage(`{"type":"object","required":["id"]}`)
	_, _, err := st.EventTypeUpdate(ctx, &store.EventTypeUpdateParams{Name: "user.created", Archived: ptr(true), Now: t0})
	wantErr(t, err, store.ErrNotFound, "updating a missing type without Create")
	if _, err := st.EventTypeGet(ctx, "user.created"); err == nil {
		t.Fatal("an update without Create made the type")
	}

	got, created, err := st.EventTypeUpdate(ctx, &store.EventTypeUpdateParams{
		Name: "user.created", Description: ptr("A user signed up"), Schema: &schema, Now: t0, Create: true,
	})
	if err != nil || !created {
		t.Fatalf("create: %+v, created %v, %v; want created", got, created, err)
	}
	if got.Description != "A user signed up" || string(got.Schema) != string(schema) || got.Archived {
		t.Errorf("created %+v, want the description and schema given, not archived", got)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt", got.UpdatedAt, us(t0))

	later := t0.Add(time.Hour)
	got, created, err = st.EventTypeUpdate(ctx, &store.EventTypeUpdateParams{Name: "user.created", Archived: ptr(true), Now: later, Create: true})
	if err != nil || created {
		t.Fatalf("archive: created %v, %v; want an update", created, err)
	}
	if !got.Archived || got.Description != "A user signed up" || string(got.Schema) != string(schema) {
		t.Errorf("archived %+v, want the description and schema kept", got)
	}
	sameTime(t, "CreatedAt after update", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt after update", got.UpdatedAt, us(later))
	if read := do(st.EventTypeGet(ctx, "user.created")).must(t); !reflect.DeepEqual(read, got) {
		t.Errorf("EventTypeGet = %+v, want %+v", read, got)
	}

	none := json.RawMessage(nil)
	got, _, err = st.EventTypeUpdate(ctx, &store.EventTypeUpdateParams{Name: "user.created", Schema: &none, Description: ptr(""), Now: later})
	if err != nil || got.Schema != nil || got.Description != "" || !got.Archived {
		t.Errorf("removing schema and description: %+v, %v; want both gone, still archived", got, err)
	}

	got, created, err = st.EventTypeUpdate(ctx, &store.EventTypeUpdateParams{Name: "order.paid", Now: t0, Create: true})
	if err != nil || !created || got.Description != "" || got.Schema != nil || got.Archived {
		t.Errorf("creating with nothing set: %+v, created %v, %v; want an empty type", got, created, err)
	}
}

func testEventTypeDelete(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	// A filter naming the type is a pattern, not a reference to it.
	mkEndpoint(t, st, "acme", filters("user.created"))
	do(st.EventTypePut(ctx, &store.EventType{Name: "user.created", UpdatedAt: t0})).must(t)
	do(st.EventTypePut(ctx, &store.EventType{Name: "user.deleted", UpdatedAt: t0})).must(t)
	res := mkEvent(t, st, "acme", "user.created", t0)

	if err := st.EventTypeDelete(ctx, "user.created"); err != nil {
		t.Fatalf("EventTypeDelete: %v", err)
	}
	_, err := st.EventTypeGet(ctx, "user.created")
	wantErr(t, err, store.ErrNotFound, "EventTypeGet after delete")
	wantErr(t, st.EventTypeDelete(ctx, "user.created"), store.ErrNotFound, "deleting twice")
	wantErr(t, st.EventTypeDelete(ctx, "no.such"), store.ErrNotFound, "deleting a missing type")
	do(st.EventTypeGet(ctx, "user.deleted")).must(t)
	if e := do(st.EventGet(ctx, "acme", res.Event.ID)).must(t); e.Type != "user.created" {
		t.Errorf("event after its type was deleted: %+v", e)
	}
	// And the endpoint still gets events of that type.
	if got := mkEvent(t, st, "acme", "user.created", t0).Deliveries; len(got) != 1 {
		t.Errorf("event of the deleted type: %d deliveries, want 1", len(got))
	}
}

// The operator's tenant exists from the first migration on, for its
// endpoints and events, and no Tenant method sees it: it cannot be read,
// listed, changed, deleted or made again.
func testOperatorTenantHidden(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	_, err := st.TenantGet(ctx, store.OperatorTenant)
	wantErr(t, err, store.ErrNotFound, "TenantGet of the operator's tenant")
	_, err = st.TenantUpdate(ctx, &store.Tenant{ID: store.OperatorTenant, Name: "mine now"})
	wantErr(t, err, store.ErrNotFound, "TenantUpdate of the operator's tenant")
	wantErr(t, st.TenantDelete(ctx, store.OperatorTenant), store.ErrNotFound, "TenantDelete of the operator's tenant")
	_, err = st.TenantCreate(ctx, &store.Tenant{ID: store.OperatorTenant, Name: "x"})
	wantErr(t, err, store.ErrConflict, "TenantCreate of the operator's tenant")
	list := do(st.TenantList(ctx, &store.ListParams{})).must(t)
	wantIDs(t, "tenants listed", ids(list, func(x *store.Tenant) string { return x.ID }), []string{"acme"})

	// Its endpoints and events are like any tenant's.
	ep := mkEndpoint(t, st, store.OperatorTenant)
	res := mkEvent(t, st, store.OperatorTenant, "webhook.delivery_failed", t0)
	if len(res.Deliveries) != 1 || res.Deliveries[0].EndpointID != ep.ID {
		t.Fatalf("the operator's event made deliveries %+v, want one to its endpoint %s", res.Deliveries, ep.ID)
	}
	cs := claim(t, st, "w", t0, 10, 10)
	wantIDs(t, "claimed", deliveryIDs(cs), []string{res.Deliveries[0].ID})
	// And a tenant's are not the operator's.
	if _, err := st.EndpointGet(ctx, "acme", ep.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the operator's endpoint under acme: %v, want ErrNotFound", err)
	}
}
