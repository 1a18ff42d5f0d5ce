package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestAuth_MissingOrUnknownKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		for name, header := range map[string]string{
			"none":    "",
			"unknown": "Bearer " + apikey.New(),
			"basic":   "Basic YWRtaW46YWRtaW4=",
			"empty":   "Bearer ",
			"huge":    "Bearer " + strings.Repeat("k", 10000),
		} {
			r := h.do(req{method: http.MethodGet, path: "/api/v1/tenants", header: map[string]string{"Authorization": header}})
			if r.Code != http.StatusUnauthorized {
				t.Errorf("%s: got %d, want 401: %s", name, r.Code, r.Body)
				continue
			}
			checkProblem(t, r)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", name)
			}
		}
		// The scheme is case-insensitive.
		r := h.do(req{method: http.MethodGet, path: "/api/v1/tenants", header: map[string]string{"Authorization": "bearer " + h.admin}})
		want(t, r, http.StatusOK)
	})
}

func TestAuth_TenantKeyScope(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		acme := h.as(h.tenantWithKey(t, "acme"))
		h.tenantWithKey(t, "globex")
		ep := h.endpoint(t, "globex", map[string]any{})

		// What a tenant key may do.
		want(t, acme.get("/api/v1/tenants/acme"), http.StatusOK)
		want(t, acme.post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://example.com/a"}), http.StatusCreated)
		want(t, acme.get("/api/v1/tenants/acme/endpoints"), http.StatusOK)
		want(t, acme.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
		want(t, acme.get("/api/v1/tenants/acme/events"), http.StatusOK)
		want(t, acme.get("/api/v1/tenants/acme/deliveries"), http.StatusOK)
		want(t, acme.get("/api/v1/formats"), http.StatusOK)
		want(t, acme.get("/api/v1/formats/standard-webhooks"), http.StatusOK)
		want(t, acme.get("/api/v1/event-types"), http.StatusOK)

		// What it may not: 403 for its own tenant, admin routes.
		for _, r := range []*response{
			acme.post("/api/v1/tenants/acme/keys", map[string]any{"name": "more"}),
			acme.patch("/api/v1/tenants/acme", map[string]any{"name": "x"}),
			acme.delete("/api/v1/tenants/acme"),
			acme.get("/api/v1/tenants"),
			acme.post("/api/v1/tenants", map[string]any{"id": "evil"}),
			acme.put("/api/v1/formats/mine", map[string]any{}),
			acme.delete("/api/v1/formats/mine"),
			acme.put("/api/v1/event-types/user.created", map[string]any{}),
		} {
			wantProblem(t, r, http.StatusForbidden, "")
		}

		// Another tenant's objects do not exist for it.
		globexEP := "/api/v1/tenants/globex/endpoints/" + ep["id"].(string)
		for _, r := range []*response{
			acme.get("/api/v1/tenants/globex"),
			acme.get("/api/v1/tenants/globex/endpoints"),
			acme.get(globexEP),
			acme.delete(globexEP),
			acme.post("/api/v1/tenants/globex/events", map[string]any{"type": "user.created", "data": map[string]any{}}),
			acme.post("/api/v1/tenants/globex/keys", map[string]any{}),
			acme.get("/api/v1/tenants/nonexistent"),
		} {
			wantProblem(t, r, http.StatusNotFound, "")
		}
		// The endpoint was not deleted.
		want(t, h.as(h.admin).get(globexEP), http.StatusOK)
		// Nor can the tenant's own path reach globex's endpoint by id.
		wantProblem(t, acme.get("/api/v1/tenants/acme/endpoints/"+ep["id"].(string)), http.StatusNotFound, "")
	})
}

func TestAuth_DeletedTenantKeyStopsWorking(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		key := h.tenantWithKey(t, "acme")
		want(t, h.as(key).get("/api/v1/tenants/acme"), http.StatusOK)
		want(t, h.as(h.admin).delete("/api/v1/tenants/acme"), http.StatusNoContent)
		r := h.as(key).get("/api/v1/tenants/acme")
		if r.Code != http.StatusUnauthorized && r.Code != http.StatusNotFound {
			t.Fatalf("key of a deleted tenant: got %d, want 401 or 404: %s", r.Code, r.Body)
		}
	})
}
