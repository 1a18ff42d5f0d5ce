package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
	engine "github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// A test send takes the event type and data a user gives (issue 10: they
// were ignored and the default test event sent): a type of the catalog,
// data held to its schema, each refused by name otherwise. The real
// engine sends it; the receiver sees that type and data.
func TestEndpoints_TestSendsTheTypeAndDataGiven(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		var mu sync.Mutex
		var bodies []map[string]any
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			var m map[string]any
			json.Unmarshal(b, &m)
			mu.Lock()
			bodies = append(bodies, m)
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}))
		defer receiver.Close()
		eng := engine.NewEngine(engine.Config{
			Store: st, Formats: catalog.New(st, "", nil),
			Client: engine.NewHTTPClient(engine.ClientConfig{AllowPrivate: true}),
		})
		// A test send takes its place among the running engine's attempts.
		runCtx, stopEngine := context.WithCancel(context.Background())
		engineDone := make(chan error, 1)
		go func() { engineDone <- eng.Run(runCtx) }()
		t.Cleanup(func() { stopEngine(); <-engineDone }) // before the store closes
		h := newHarness(t, st, func(c *Config) {
			c.AllowPrivateDestinations = true
			c.Tester = eng
		})
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		want(t, admin.put("/api/v1/event-types/user.created", `{"schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}`), http.StatusCreated)
		want(t, admin.put("/api/v1/event-types/user.deleted", `{}`), http.StatusCreated)
		want(t, admin.put("/api/v1/event-types/user.old", `{"archived": true}`), http.StatusCreated)
		ep := h.endpoint(t, "acme", map[string]any{"url": receiver.URL + "/hook", "events": []string{"order.*"}})
		path := "/api/v1/tenants/acme/endpoints/" + ep["id"].(string) + "/test"
		last := func() map[string]any {
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) == 0 {
				t.Fatal("the receiver got nothing")
			}
			return bodies[len(bodies)-1]
		}

		// The endpoint's filter does not matter: a test send goes to it.
		r := admin.post(path, `{"type": "user.created", "data": {"id": "usr_1", "n": 12345678901234567890}}`)
		want(t, r, http.StatusOK)
		if r.obj(t)["status"] != "delivered" {
			t.Fatalf("test send %s, want delivered", r.Body)
		}
		got := last()
		data, _ := got["data"].(map[string]any)
		if got["type"] != "user.created" || data["id"] != "usr_1" || len(data) != 2 {
			t.Fatalf("receiver got %v, want type user.created with the data given", got)
		}
		r = admin.get("/api/v1/tenants/acme/events?type=user.created")
		if l := r.list(t); len(l) != 1 || l[0]["source"] != "test" {
			t.Fatalf("stored test events %s, want one of source test", r.Body)
		}

		// A type without a schema and no data: Herald's test data.
		want(t, admin.post(path, `{"type": "user.deleted"}`), http.StatusOK)
		if got := last(); got["type"] != "user.deleted" || got["data"].(map[string]any)["message"] == nil {
			t.Fatalf("receiver got %v, want user.deleted with Herald's test data", got)
		}
		// Data alone goes with the format's test event type.
		want(t, admin.post(path, `{"data": {"x": [1]}}`), http.StatusOK)
		if got := last(); got["type"] != "webhook.test" || got["data"].(map[string]any)["x"] == nil {
			t.Fatalf("receiver got %v, want webhook.test with the data given", got)
		}
		// Nothing at all is the format's test event, as before.
		want(t, admin.post(path, nil), http.StatusOK)
		if got := last(); got["type"] != "webhook.test" || got["data"].(map[string]any)["endpoint_id"] != ep["id"] {
			t.Fatalf("receiver got %v, want the format's test event", got)
		}

		mu.Lock()
		sent := len(bodies)
		mu.Unlock()
		for _, tc := range []struct{ body, loc string }{
			{`{"type": "user.created"}`, "body.data"},
			{`{"type": "user.created", "data": {"id": 5}}`, "body.data.id"},
			{`{"type": "order.paid"}`, "body.type"},
			{`{"type": "user.old"}`, "body.type"},
			{`{"type": "a..b"}`, "body.type"},
			{`{"type": 5}`, "body.type"},
			{`{"data": [1]}`, "body.data"},
			{`{"data": {"a": 1, "a": 2}}`, "body.data.a"},
			{`{"force": true}`, "body.force"},
		} {
			wantProblem(t, admin.post(path, tc.body), http.StatusUnprocessableEntity, tc.loc)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != sent {
			t.Fatalf("refused test sends reached the receiver: %d more requests", len(bodies)-sent)
		}
	})
}
