package api

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

const paymentSchema = `{
	"type": "object",
	"required": ["amount"],
	"properties": {
		"amount": {"type": "integer", "minimum": 1},
		"items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}
	}
}`

func TestEventTypes_PutGetList(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)

		r := admin.put("/api/v1/event-types/payment.succeeded", `{"description": "A payment went through", "schema": `+paymentSchema+`}`)
		want(t, r, http.StatusCreated)
		if got := r.obj(t); got["name"] != "payment.succeeded" || got["archived"] != false || got["schema"] == nil {
			t.Fatalf("created %s", r.Body)
		}
		r = admin.put("/api/v1/event-types/payment.succeeded", `{"description": "changed"}`)
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["description"] != "changed" || got["schema"] == nil {
			t.Fatalf("changed %s, want the new description and the schema kept", r.Body)
		}
		// Archiving keeps everything else (issue 10: it wiped the schema
		// and the description).
		r = admin.put("/api/v1/event-types/payment.succeeded", `{"archived": true}`)
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["description"] != "changed" || got["schema"] == nil || got["archived"] != true {
			t.Fatalf("archived %s, want the description and the schema kept", r.Body)
		}
		r = admin.put("/api/v1/event-types/payment.succeeded", `{"schema": null, "archived": false}`)
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["description"] != "changed" || got["schema"] != nil || got["archived"] != false {
			t.Fatalf("put of a null schema: %s, want the schema gone, the description kept", r.Body)
		}
		want(t, admin.put("/api/v1/event-types/v1.case.completed", `{}`), http.StatusCreated)

		r = admin.get("/api/v1/event-types/v1.case.completed")
		want(t, r, http.StatusOK)
		wantProblem(t, admin.get("/api/v1/event-types/nope"), http.StatusNotFound, "")

		r = admin.get("/api/v1/event-types")
		want(t, r, http.StatusOK)
		if l := r.list(t); len(l) != 2 || l[0]["name"] != "v1.case.completed" {
			t.Fatalf("list %s, want both, newest first", r.Body)
		}
	})
}

func TestEventTypes_Invalid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		for _, tc := range []struct {
			name, body, loc string
		}{
			{"a..b", `{}`, "path.name"},
			{".a", `{}`, "path.name"},
			{"a.", `{}`, "path.name"},
			{"a*", `{}`, "path.name"},
			{"ok", `{"schema": {"type": "nonsense"}}`, "body.schema"},
			{"ok", `{"schema": {"minimum": "one"}}`, "body.schema"},
			{"ok", `{"schema": 5}`, "body.schema"},
			{"ok", `{"schema": {"$ref": "file:///etc/passwd"}}`, "body.schema"},
			{"ok", `{"schema": {"$ref": "https://example.com/schema.json"}}`, "body.schema"},
			{"ok", `{"schema": {"pattern": "("}}`, "body.schema"},
			{"ok", `{"archived": "yes"}`, "body.archived"},
			{"ok", `{"extra": 1}`, "body.extra"},
		} {
			r := admin.put("/api/v1/event-types/"+tc.name, tc.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("PUT %s %s: got %d, want 422: %s", tc.name, tc.body, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		// A schema may refer to itself.
		want(t, admin.put("/api/v1/event-types/tree", `{"schema": {"$defs": {"n": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}}}}, "$ref": "#/$defs/n"}}`), http.StatusCreated)
	})
}

func TestEventTypes_PatchAndDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		const path = "/api/v1/event-types/payment.succeeded"
		wantProblem(t, admin.patch(path, `{"archived": true}`), http.StatusNotFound, "")
		wantProblem(t, admin.get(path), http.StatusNotFound, "")
		want(t, admin.put(path, `{"description": "A payment went through", "schema": `+paymentSchema+`}`), http.StatusCreated)

		r := admin.patch(path, `{"archived": true}`)
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["archived"] != true || got["description"] != "A payment went through" || got["schema"] == nil {
			t.Fatalf("patched %s, want archived, the rest kept", r.Body)
		}
		// An archived type takes no events.
		h.tenantWithKey(t, "acme")
		wantProblem(t, admin.post("/api/v1/tenants/acme/events", `{"type": "payment.succeeded", "data": {"amount": 5}}`), http.StatusUnprocessableEntity, "body.type")
		r = admin.patch(path, `{"archived": false, "description": "paid"}`)
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["archived"] != false || got["description"] != "paid" || got["schema"] == nil {
			t.Fatalf("patched %s", r.Body)
		}
		for _, tc := range []struct{ body, loc string }{
			{`{"extra": 1}`, "body.extra"},
			{`{"archived": "yes"}`, "body.archived"},
			{`{"schema": {"type": "nonsense"}}`, "body.schema"},
			{`{"description": 5}`, "body.description"},
		} {
			wantProblem(t, admin.patch(path, tc.body), http.StatusUnprocessableEntity, tc.loc)
		}
		wantProblem(t, admin.patch("/api/v1/event-types/a..b", `{}`), http.StatusUnprocessableEntity, "path.name")
		tenantKey := h.as(h.tenantWithKey(t, "globex"))
		wantProblem(t, tenantKey.patch(path, `{"archived": true}`), http.StatusForbidden, "")
		wantProblem(t, tenantKey.delete(path), http.StatusForbidden, "")

		// A type named by an endpoint's filter can be deleted: the filter is
		// a pattern and stays, and its events are taken unchecked.
		ep := h.endpoint(t, "acme", map[string]any{"events": []string{"payment.succeeded"}})
		r = admin.delete(path)
		want(t, r, http.StatusNoContent)
		wantProblem(t, admin.get(path), http.StatusNotFound, "")
		wantProblem(t, admin.delete(path), http.StatusNotFound, "")
		r = admin.get("/api/v1/tenants/acme/endpoints/" + ep["id"].(string))
		if l, _ := r.obj(t)["events"].([]any); len(l) != 1 || l[0] != "payment.succeeded" {
			t.Fatalf("endpoint after the type's deletion: %s", r.Body)
		}
		r = admin.post("/api/v1/tenants/acme/events", `{"type": "payment.succeeded", "data": {"amount": "not a number"}}`)
		want(t, r, http.StatusAccepted)
		if n := r.obj(t)["deliveries"]; n != float64(1) {
			t.Fatalf("event of the deleted type: %s, want one delivery", r.Body)
		}
	})
}
