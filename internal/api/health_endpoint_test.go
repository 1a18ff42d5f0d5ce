package api

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestEndpoints_HealthAndDisabledReason: an endpoint shows its health and,
// when disabled, why and since when; enabling it clears both.
func TestEndpoints_HealthAndDisabledReason(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})
		path := "/api/v1/tenants/acme/endpoints/" + ep["id"].(string)
		health, _ := ep["health"].(map[string]any)
		if health == nil || health["consecutive_failures"] != float64(0) || health["last_response_code"] != nil ||
			health["failing_since"] != nil || health["succeeded_24h"] != float64(0) || health["failed_24h"] != float64(0) ||
			ep["disabled_reason"] != nil || ep["disabled_at"] != nil {
			t.Fatalf("new endpoint %v, want zero health and no disabled_reason", ep)
		}

		r := admin.patch(path, map[string]any{"enabled": false})
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["status"] != "disabled" || got["disabled_reason"] != "manual" || got["disabled_at"] == nil {
			t.Fatalf("disabled by hand: %s, want disabled, manual, with disabled_at", r.Body)
		}
		r = admin.get("/api/v1/tenants/acme/endpoints")
		want(t, r, http.StatusOK)
		if l := r.list(t); len(l) != 1 || l[0]["disabled_reason"] != "manual" || l[0]["health"] == nil {
			t.Fatalf("list %s, want the endpoint with its reason and health", r.Body)
		}
		r = admin.patch(path, map[string]any{"enabled": true})
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["status"] != "active" || got["disabled_reason"] != nil || got["disabled_at"] != nil {
			t.Fatalf("enabled again: %s, want active with no reason", r.Body)
		}
	})
}
