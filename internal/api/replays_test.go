package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestReplays_StartShowAndList(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		acmeKey := h.tenantWithKey(t, "acme")
		h.tenantWithKey(t, "other")
		ep := h.endpoint(t, "acme", map[string]any{})
		epID := ep["id"].(string)
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

		for _, typ := range []string{"user.created", "order.paid", "user.deleted"} {
			want(t, admin.post("/api/v1/tenants/acme/events", map[string]any{"type": typ, "data": map[string]any{}}), http.StatusAccepted)
		}
		failed := failDue(t, st, 3)

		path := "/api/v1/tenants/acme/endpoints/" + epID + "/replay"
		r := admin.post(path, map[string]any{"since": since, "event_type": "user.*"})
		want(t, r, http.StatusAccepted)
		got := r.obj(t)
		rid, _ := got["id"].(string)
		if len(rid) < 4 || rid[:4] != "rpl_" || got["status"] != "done" || got["queued"] != float64(2) || got["scanned"] != float64(3) ||
			got["endpoint_id"] != epID || got["tenant_id"] != "acme" || got["error"] != nil || got["finished_at"] == nil || got["scanned_through"] == nil {
			t.Fatalf("replay of user.* = %s, want a done rpl_ replay with 2 of 3 queued", r.Body)
		}
		filters, _ := got["filters"].(map[string]any)
		if filters["status"] != "failed" || filters["event_type"] != "user.*" {
			t.Fatalf("filters %v, want failed and user.*", got["filters"])
		}
		for _, k := range []string{"since", "until", "created_at", "updated_at"} {
			if _, err := time.Parse(time.RFC3339Nano, got[k].(string)); err != nil {
				t.Errorf("%s = %v, want a time", k, got[k])
			}
		}
		pending := 0
		for _, id := range failed {
			if d, _ := st.DeliveryGet(t.Context(), "acme", id); d.Status == store.StatusPending {
				pending++
			}
		}
		if pending != 2 {
			t.Fatalf("%d deliveries pending after the replay, want the 2 user ones", pending)
		}

		// Its progress, by the tenant's own key too.
		r = h.as(acmeKey).get("/api/v1/tenants/acme/replays/" + rid)
		want(t, r, http.StatusOK)
		if r.obj(t)["queued"] != float64(2) || r.obj(t)["status"] != "done" {
			t.Fatalf("GET replay = %s, want it done with 2 queued", r.Body)
		}
		wantProblem(t, admin.get("/api/v1/tenants/other/replays/"+rid), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/acme/replays/rpl_nope"), http.StatusNotFound, "")

		// A window that holds nothing, and one with no filter: the order.
		r = admin.post(path, map[string]any{"since": "2001-01-01T00:00:00Z", "until": "2001-01-02T00:00:00Z"})
		want(t, r, http.StatusAccepted)
		if o := r.obj(t); o["queued"] != float64(0) || o["status"] != "done" || o["scanned_through"] != nil {
			t.Fatalf("empty window: %s, want done with 0 queued", r.Body)
		}
		empty := r.str(t, "id")
		r = admin.post(path, map[string]any{"since": since})
		want(t, r, http.StatusAccepted)
		if o := r.obj(t); o["queued"] != float64(1) || o["filters"].(map[string]any)["event_type"] != nil {
			t.Fatalf("replay of the rest: %s, want the 1 failed order queued, no type filter", r.Body)
		}
		last := r.str(t, "id")

		list := admin.get("/api/v1/tenants/acme/replays")
		want(t, list, http.StatusOK)
		if rows := list.list(t); len(rows) != 3 || rows[0]["id"] != last || rows[1]["id"] != empty || rows[2]["id"] != rid {
			t.Fatalf("replays = %s, want the 3, newest first", list.Body)
		}
		list = admin.get("/api/v1/tenants/acme/endpoints/" + epID + "/replays?limit=1")
		want(t, list, http.StatusOK)
		if rows := list.list(t); len(rows) != 1 || rows[0]["id"] != last || list.obj(t)["next_cursor"] == nil {
			t.Fatalf("endpoint's replays, a page of 1 = %s, want the newest and a next cursor", list.Body)
		}
		if rows := admin.get("/api/v1/tenants/acme/replays?endpoint=ep_other").list(t); len(rows) != 0 {
			t.Fatalf("replays of another endpoint: %d, want none", len(rows))
		}
		if rows := admin.get("/api/v1/tenants/other/replays").list(t); len(rows) != 0 {
			t.Fatalf("other tenant's replays: %d, want none", len(rows))
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/endpoints/ep_nope/replays"), http.StatusNotFound, "")
	})
}

func TestReplays_RefuseBadInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		epID := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		path := "/api/v1/tenants/acme/endpoints/" + epID + "/replay"
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		wantProblem(t, admin.post(path, map[string]any{}), http.StatusUnprocessableEntity, "body.since")
		wantProblem(t, admin.post(path, map[string]any{"since": "yesterday"}), http.StatusUnprocessableEntity, "body.since")
		wantProblem(t, admin.post(path, map[string]any{"since": "2001-01-02T00:00:00Z", "until": "2001-01-01T00:00:00Z"}), http.StatusUnprocessableEntity, "body.until")
		wantProblem(t, admin.post(path, map[string]any{"since": since, "status": "pending"}), http.StatusUnprocessableEntity, "body.status")
		wantProblem(t, admin.post(path, map[string]any{"since": since, "event_type": "user created"}), http.StatusUnprocessableEntity, "body.event_type")
		wantProblem(t, admin.post(path, map[string]any{"since": since, "event_type": "a.**"}), http.StatusUnprocessableEntity, "body.event_type")
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints/ep_nope/replay", map[string]any{"since": since}), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/acme/replays?cursor=bogus"), http.StatusUnprocessableEntity, "query.cursor")
	})
}
