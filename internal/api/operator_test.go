package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// The operator's endpoints are made, listed, read, changed and deleted
// with the admin key, as the same object as a tenant's under no tenant;
// they are in no tenant's list, and their tenant is no tenant the API
// shows.
func TestOperatorEndpoints_CRUDWithTheAdminKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		tenantEp := h.endpoint(t, "acme", map[string]any{})
		const base = "/api/v1/operator/endpoints"

		r := admin.post(base, map[string]any{"url": "https://ops.example.com/hook", "events": []string{"webhook.*"}, "description": "pager"})
		want(t, r, http.StatusCreated)
		ep := r.obj(t)
		id, _ := ep["id"].(string)
		if ep["tenant_id"] != nil || ep["format"] != "standard-webhooks" || ep["status"] != "active" || ep["secret"] == "" || ep["health"] == nil {
			t.Fatalf("created operator endpoint = %v, want tenant_id null, the default format, active, its secret and health", ep)
		}
		if tenantEp["tenant_id"] != "acme" {
			t.Errorf("a tenant's endpoint has tenant_id %v, want acme", tenantEp["tenant_id"])
		}
		list := admin.get(base)
		want(t, list, http.StatusOK)
		if got := list.list(t); len(got) != 1 || got[0]["id"] != id {
			t.Fatalf("operator endpoints = %v, want the one made", got)
		}
		if got := admin.get("/api/v1/tenants/acme/endpoints").list(t); len(got) != 1 || got[0]["id"] != tenantEp["id"] {
			t.Errorf("acme's endpoints = %v, want its own only", got)
		}
		// Its tenant is reached by no tenant route, and listed by none.
		want(t, admin.get("/api/v1/tenants/"+url.PathEscape(store.OperatorTenant)+"/endpoints"), http.StatusNotFound)
		want(t, admin.get("/api/v1/tenants/acme/endpoints/"+id), http.StatusNotFound)
		for _, tn := range admin.get("/api/v1/tenants").list(t) {
			if tn["id"] != "acme" {
				t.Errorf("tenants list %v, want acme alone", tn)
			}
		}

		r = admin.patch(base+"/"+id, map[string]any{"enabled": false, "description": "muted"})
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["status"] != "disabled" || got["disabled_reason"] != "manual" || got["description"] != "muted" || got["tenant_id"] != nil {
			t.Errorf("patched = %v, want disabled, manual, muted", got)
		}
		if got := admin.get(base + "/" + id).obj(t); got["description"] != "muted" || got["secret"] != nil {
			t.Errorf("read back = %v, want muted and no secret", got)
		}
		wantProblem(t, admin.post(base, map[string]any{"url": "https://ops.example.com/hook", "colour": "red"}), http.StatusUnprocessableEntity, "body.colour")
		wantProblem(t, admin.post(base, map[string]any{"url": "https://ops.example.com/hook", "events": []string{"bad filter!"}}), http.StatusUnprocessableEntity, "body.events[0]")
		wantProblem(t, admin.get(base+"?limit=0"), http.StatusUnprocessableEntity, "query.limit")
		want(t, admin.delete(base+"/"+id), http.StatusNoContent)
		wantProblem(t, admin.get(base+"/"+id), http.StatusNotFound, "")
		wantProblem(t, admin.delete(base+"/"+id), http.StatusNotFound, "")
		// A tenant's endpoint is not an operator's.
		wantProblem(t, admin.get(base+"/"+tenantEp["id"].(string)), http.StatusNotFound, "")
	})
}

// A tenant's key may not touch the operator's endpoints, by the operator
// routes (403) or through its own tenant's (404).
func TestOperatorEndpoints_RefuseTenantKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		key := h.tenantWithKey(t, "acme")
		r := h.as(h.admin).post("/api/v1/operator/endpoints", map[string]any{"url": "https://ops.example.com/hook"})
		want(t, r, http.StatusCreated)
		id := r.str(t, "id")
		tenant := h.as(key)
		const base = "/api/v1/operator/endpoints"
		for _, r := range []*response{
			tenant.post(base, map[string]any{"url": "https://evil.example.com/"}),
			tenant.get(base),
			tenant.get(base + "/" + id),
			tenant.patch(base+"/"+id, map[string]any{"url": "https://evil.example.com/"}),
			tenant.delete(base + "/" + id),
		} {
			wantProblem(t, r, http.StatusForbidden, "")
		}
		wantProblem(t, tenant.get("/api/v1/tenants/acme/endpoints/"+id), http.StatusNotFound, "")
		wantProblem(t, tenant.get("/api/v1/tenants/"+url.PathEscape(store.OperatorTenant)+"/endpoints"), http.StatusNotFound, "")
		if got := h.as(h.admin).get(base + "/" + id).obj(t); got["url"] != "https://ops.example.com/hook" {
			t.Errorf("after the tenant's tries: %v, want it unchanged", got)
		}
	})
}
