package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/verify"
)

// operatorBody is a notice as an operator endpoint in the default format
// receives it.
type operatorBody struct {
	Type string `json:"type"`
	Data struct {
		TenantID   *string `json:"tenant_id"`
		EndpointID string  `json:"endpoint_id"`
		Reason     string  `json:"reason"`
		Count      int     `json:"count"`
	} `json:"data"`
}

// Tried as an operator would: an endpoint registered with the admin key
// hears, signed in the default format, of tenant acme's delivery that failed
// for good and of tenant globex's endpoint disabled by a 410, each with its
// tenant's id; a second operator endpoint that fails once gets its notice on
// the retry, with the attempts in its health. Tenant keys get 403 on
// the operator routes and 404 for the operator's endpoints and tenant
// under their own.
func TestServe_OperatorEndpointsHearEveryTenantsNotices(t *testing.T) {
	t.Parallel()
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			failing := newCapture(t, func(int, *captured) int { return http.StatusInternalServerError })
			gone := newCapture(t, func(int, *captured) int { return http.StatusGone })
			ops := newCapture(t, nil)
			var flaky atomic.Int32
			opsFlaky := newCapture(t, func(int, *captured) int {
				if flaky.Add(1) == 1 {
					return http.StatusServiceUnavailable
				}
				return http.StatusNoContent
			})
			l := startLive(t, db.url(t))
			l.must(201, "PUT", "/api/v1/formats/once", map[string]any{
				"name": "once", "signature": map[string]any{"scheme": "standard-webhooks"}, "retry": map[string]any{"schedule": []string{}},
			})
			l.must(201, "PUT", "/api/v1/formats/quick", map[string]any{
				"name": "quick", "signature": map[string]any{"scheme": "standard-webhooks"}, "retry": map[string]any{"schedule": []string{"1s"}},
			})
			op := l.must(201, "POST", "/api/v1/operator/endpoints", map[string]any{"url": ops.URL})
			if op["tenant_id"] != nil || op["format"] != "standard-webhooks" || op["events"].([]any)[0] != "*" {
				t.Fatalf("operator endpoint = %v, want under no tenant, in the default format, for every type", op)
			}
			opFlaky := l.must(201, "POST", "/api/v1/operator/endpoints", map[string]any{"url": opsFlaky.URL, "format": "quick", "events": []string{"webhook.endpoint_disabled"}})
			l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "globex", "name": "Globex"})
			epA := l.must(201, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": failing.URL, "events": []string{"user.*"}, "format": "once"})["id"].(string)
			epB := l.must(201, "POST", "/api/v1/tenants/globex/endpoints", map[string]any{"url": gone.URL, "events": []string{"user.*"}})["id"].(string)

			evA := l.must(202, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})["id"].(string)
			waitDelivery(t, l, deliveryOf(t, l, evA)["id"].(string), 10*time.Second, statusIs("failed"))
			l.must(202, "POST", "/api/v1/tenants/globex/events", map[string]any{"type": "user.created", "data": map[string]any{}})

			v, err := verify.NewStandard([]string{op["secret"].(string)})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]operatorBody{}
			for _, c := range ops.wait(t, 2, 15*time.Second) {
				if err := v.Verify(c.body, c.header); err != nil {
					t.Errorf("notice at the operator endpoint does not verify with its secret: %v", err)
				}
				var n operatorBody
				if err := json.Unmarshal(c.body, &n); err != nil {
					t.Fatal(err)
				}
				got[n.Type] = n
			}
			failed, disabled := got["webhook.delivery_failed"], got["webhook.endpoint_disabled"]
			if failed.Data.TenantID == nil || *failed.Data.TenantID != "acme" || failed.Data.EndpointID != epA || failed.Data.Count != 1 {
				t.Errorf("delivery_failed at the operator = %+v, want acme's endpoint %s, one failure", failed, epA)
			}
			if disabled.Data.TenantID == nil || *disabled.Data.TenantID != "globex" || disabled.Data.EndpointID != epB || disabled.Data.Reason != "gone" {
				t.Errorf("endpoint_disabled at the operator = %+v, want globex's endpoint %s, gone", disabled, epB)
			}

			// The flaky one, for disabled endpoints only (a failure notice
			// skips an endpoint whose last attempt failed): its notice on
			// the retry, and its health says so.
			opsFlaky.wait(t, 2, 15*time.Second)
			var h map[string]any
			deadline := time.Now().Add(10 * time.Second)
			for {
				h = l.must(200, "GET", "/api/v1/operator/endpoints/"+opFlaky["id"].(string), nil)["health"].(map[string]any)
				// The row and its 24-hour counts are two reads (EndpointGet),
				// so one answer may hold the success's count and not yet its
				// reset: wait for both.
				if h["succeeded_24h"] == float64(1) && h["consecutive_failures"] == float64(0) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if h["succeeded_24h"] != float64(1) || h["failed_24h"] != float64(1) || h["consecutive_failures"] != float64(0) {
				t.Errorf("flaky operator endpoint's health = %v, want 1 succeeded after 1 failed", h)
			}
			if rs := opsFlaky.all(); len(rs) != 2 || rs[0].header.Get("webhook-id") != rs[1].header.Get("webhook-id") ||
				!json.Valid(rs[1].body) {
				t.Errorf("flaky operator endpoint got %d requests, want the one notice twice", len(rs))
			}

			// Tenant keys do not reach any of it.
			key := l.must(201, "POST", "/api/v1/tenants/acme/keys", map[string]any{"name": "acme"})["key"].(string)
			tl := *l
			tl.key = key
			opID := op["id"].(string)
			for _, c := range []struct {
				method, path string
				body         any
				want         int
			}{
				{"GET", "/api/v1/operator/endpoints", nil, 403},
				{"POST", "/api/v1/operator/endpoints", map[string]any{"url": "https://example.com/"}, 403},
				{"GET", "/api/v1/operator/endpoints/" + opID, nil, 403},
				{"PATCH", "/api/v1/operator/endpoints/" + opID, map[string]any{"enabled": false}, 403},
				{"DELETE", "/api/v1/operator/endpoints/" + opID, nil, 403},
				{"GET", "/api/v1/tenants/acme/endpoints/" + opID, nil, 404},
				{"GET", "/api/v1/tenants/" + url.PathEscape(store.OperatorTenant) + "/endpoints", nil, 404},
				{"GET", "/api/v1/tenants/" + url.PathEscape(store.OperatorTenant) + "/deliveries", nil, 404},
			} {
				if code, body := tl.do(c.method, c.path, c.body); code != c.want {
					t.Errorf("tenant key: %s %s = %d %v, want %d", c.method, c.path, code, body, c.want)
				}
			}
			// Nor does the admin key find the operator's tenant among the
			// tenants.
			l.must(404, "GET", "/api/v1/tenants/"+url.PathEscape(store.OperatorTenant), nil)
			for _, tn := range l.must(200, "GET", "/api/v1/tenants", nil)["data"].([]any) {
				if id := tn.(map[string]any)["id"]; id != "acme" && id != "globex" {
					t.Errorf("tenants list has %v", id)
				}
			}
			if got := l.must(200, "GET", "/api/v1/operator/endpoints/"+opID, nil); got["enabled"] != true {
				t.Errorf("operator endpoint after the tenant's tries = %v, want it enabled still", got)
			}
		})
	}
}
