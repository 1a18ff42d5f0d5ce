package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
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

		// Retrying a pending delivery leaves it due as it was.
		r = admin.post("/api/v1/tenants/acme/deliveries/"+pending+"/retry", nil)
		want(t, r, http.StatusAccepted)
		if got := r.obj(t); got["status"] != "pending" || got["next_attempt_at"] != all[0]["next_attempt_at"] {
			t.Fatalf("retried pending delivery %s, want it pending, due as it was (%v)", r.Body, all[0]["next_attempt_at"])
		}

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
		// Retried again while pending: nothing changes.
		want(t, admin.post("/api/v1/tenants/acme/deliveries/"+failed[0]+"/retry", nil), http.StatusAccepted)
		wantProblem(t, admin.post("/api/v1/tenants/acme/deliveries/dlv_nope/retry", nil), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/acme/deliveries/dlv_nope"), http.StatusNotFound, "")

		// Another tenant cannot reach them.
		other := h.as(h.tenantWithKey(t, "globex"))
		wantProblem(t, other.get("/api/v1/tenants/globex/deliveries/"+failed[1]), http.StatusNotFound, "")
		wantProblem(t, other.post("/api/v1/tenants/globex/deliveries/"+failed[1]+"/retry", nil), http.StatusNotFound, "")
	})
}

// retryAll claims every due delivery at now and records a failed attempt
// of each that leaves it retrying, due at next.
func retryAll(t *testing.T, st store.Store, now, next time.Time) []string {
	t.Helper()
	ctx := t.Context()
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 100, PerEndpoint: 100})
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claimed %d deliveries (%v), want some", len(claimed), err)
	}
	var ids []string
	for _, c := range claimed {
		if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: c.Delivery.ID, Owner: "test", Status: store.StatusRetrying, NextAttemptAt: &next, Now: now,
			Attempt: &store.Attempt{StartedAt: now, DurationMS: 3, ResponseCode: 503},
		}); err != nil {
			t.Fatalf("record attempt: %v", err)
		}
		ids = append(ids, c.Delivery.ID)
	}
	return ids
}

// "Retry now" exists (issue 10): a retrying delivery's retry brings its
// next attempt to now, and an endpoint's whole retrying backlog can be
// brought to now at once.
func TestDeliveries_RetryNow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		fake := clock.NewFake(start)
		h := newHarness(t, st, func(c *Config) { c.Clock = fake })
		admin := h.as(h.admin)
		key := h.tenantWithKey(t, "acme")
		epA := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		for range 3 {
			want(t, admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
		}
		epB := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		want(t, admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
		later := start.Add(6 * time.Hour)
		retryAll(t, st, start, later) // 4 to epA, 1 to epB

		fake.Advance(time.Minute)
		now := fake.Now().Format(time.RFC3339Nano)
		r := admin.get("/api/v1/tenants/acme/endpoints/" + epB + "/deliveries")
		one := r.list(t)[0]["id"].(string)
		r = admin.post("/api/v1/tenants/acme/deliveries/"+one+"/retry", nil)
		want(t, r, http.StatusAccepted)
		if got := r.obj(t); got["status"] != "retrying" || got["next_attempt_at"] != now || got["attempt_count"] != float64(1) {
			t.Fatalf("retry of a retrying delivery: %s, want it retrying, due %s", r.Body, now)
		}

		path := "/api/v1/tenants/acme/endpoints/" + epA + "/retry-now"
		r = h.as(key).post(path, nil)
		want(t, r, http.StatusOK)
		if got := r.obj(t)["moved"]; got != float64(4) {
			t.Fatalf("retry-now answered %s, want 4 moved", r.Body)
		}
		r = admin.get("/api/v1/tenants/acme/endpoints/" + epA + "/deliveries")
		for _, d := range r.list(t) {
			if d["status"] != "retrying" || d["next_attempt_at"] != now {
				t.Errorf("after retry-now: %v, want retrying, due %s", d, now)
			}
		}
		// epB's own was moved by its retry alone.
		r = admin.post("/api/v1/tenants/acme/endpoints/"+epB+"/retry-now", nil)
		if got := r.obj(t)["moved"]; got != float64(0) {
			t.Fatalf("retry-now of epB answered %s, want 0 moved: its one delivery is due already", r.Body)
		}
		r = admin.post(path, map[string]any{})
		want(t, r, http.StatusOK)
		if got := r.obj(t)["moved"]; got != float64(0) {
			t.Fatalf("second retry-now answered %s, want 0 moved", r.Body)
		}
		wantProblem(t, admin.post(path, `{"force": true}`), http.StatusUnprocessableEntity, "body.force")
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints/ep_nope/retry-now", nil), http.StatusNotFound, "")
		other := h.as(h.tenantWithKey(t, "globex"))
		wantProblem(t, other.post("/api/v1/tenants/globex/endpoints/"+epA+"/retry-now", nil), http.StatusNotFound, "")
		wantProblem(t, other.post(path, nil), http.StatusNotFound, "")

		// One in flight is the only conflict.
		claimed, err := st.DeliveryClaimDue(t.Context(), &store.DeliveryClaimParams{Owner: "test", Now: fake.Now(), Lease: time.Minute, Limit: 1, PerEndpoint: 1})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d, %v", len(claimed), err)
		}
		r = admin.post("/api/v1/tenants/acme/deliveries/"+claimed[0].Delivery.ID+"/retry", nil)
		wantProblem(t, r, http.StatusConflict, "")
		if !strings.Contains(r.str(t, "detail"), "in flight") {
			t.Errorf("conflict %s does not say why", r.Body)
		}
	})
}
