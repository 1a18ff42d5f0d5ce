package api

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestDeliveries_GetListRetry(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		epA := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		epB := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		r := admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})
		want(t, r, http.StatusAccepted)
		evID := r.str(t, "id")

		r = admin.get("/api/v1/tenants/acme/deliveries")
		want(t, r, http.StatusOK)
		all := r.list(t)
		if len(all) != 2 {
			t.Fatalf("%d deliveries, want 2: %s", len(all), r.Body)
		}
		pending := all[0]["id"].(string)
		if all[0]["status"] != "pending" || all[0]["next_attempt_at"] == nil || all[0]["event_type"] != "user.created" {
			t.Fatalf("fresh delivery %v, want pending with a due time", all[0])
		}

		// Retrying a delivery that is still on its way is a conflict.
		wantProblem(t, admin.post("/api/v1/tenants/acme/deliveries/"+pending+"/retry", nil), http.StatusConflict, "")

		failed := failDue(t, st, 2)
		r = admin.get("/api/v1/tenants/acme/deliveries/" + failed[0])
		want(t, r, http.StatusOK)
		got := r.obj(t)
		atts, _ := got["attempts"].([]any)
		if got["status"] != "failed" || len(atts) != 1 || got["next_attempt_at"] != nil {
			t.Fatalf("failed delivery %s, want status failed, one attempt, no next attempt", r.Body)
		}
		att := atts[0].(map[string]any)
		if att["number"] != float64(1) || att["response_code"] != float64(500) || att["response_body"] != "boom" || att["duration_ms"] != float64(12) {
			t.Fatalf("attempt %v", att)
		}

		// Filters.
		for query, n := range map[string]int{
			"?status=failed":                      2,
			"?status=pending":                     0,
			"?endpoint=" + epA:                    1,
			"?event=" + evID:                      2,
			"?event=evt_other":                    0,
			"?endpoint=" + epB + "&status=failed": 1,
		} {
			r := admin.get("/api/v1/tenants/acme/deliveries" + query)
			want(t, r, http.StatusOK)
			if got := len(r.list(t)); got != n {
				t.Errorf("deliveries%s: %d, want %d", query, got, n)
			}
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/deliveries?status=lost"), http.StatusUnprocessableEntity, "query.status")
		r = admin.get("/api/v1/tenants/acme/endpoints/" + epA + "/deliveries")
		if l := r.list(t); len(l) != 1 || l[0]["endpoint_id"] != epA {
			t.Fatalf("endpoint deliveries %s", r.Body)
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/endpoints/ep_nope/deliveries"), http.StatusNotFound, "")

		r = admin.post("/api/v1/tenants/acme/deliveries/"+failed[0]+"/retry", nil)
		want(t, r, http.StatusAccepted)
		if r.obj(t)["status"] != "pending" || r.str(t, "id") != failed[0] {
			t.Fatalf("retry answered %s, want the same delivery, pending", r.Body)
		}
		wantProblem(t, admin.post("/api/v1/tenants/acme/deliveries/"+failed[0]+"/retry", nil), http.StatusConflict, "")
		wantProblem(t, admin.post("/api/v1/tenants/acme/deliveries/dlv_nope/retry", nil), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/acme/deliveries/dlv_nope"), http.StatusNotFound, "")

		// Another tenant cannot reach them.
		other := h.as(h.tenantWithKey(t, "globex"))
		wantProblem(t, other.get("/api/v1/tenants/globex/deliveries/"+failed[1]), http.StatusNotFound, "")
		wantProblem(t, other.post("/api/v1/tenants/globex/deliveries/"+failed[1]+"/retry", nil), http.StatusNotFound, "")
	})
}
