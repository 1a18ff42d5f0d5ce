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
		if got := r.obj(t); got["description"] != "changed" || got["schema"] != nil {
			t.Fatalf("replaced %s, want the new description and no schema", r.Body)
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
