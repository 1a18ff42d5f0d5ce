package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestEvents_IngestFansOutToMatchingEndpoints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{"events": []string{"*"}})
		h.endpoint(t, "acme", map[string]any{"events": []string{"user.*"}})
		h.endpoint(t, "acme", map[string]any{"events": []string{"project.created"}})
		// Disabled: a failed delivery, never attempted (issue 9).
		h.endpoint(t, "acme", map[string]any{"events": []string{"user.created"}, "enabled": false})

		r := admin.post("/api/v1/tenants/acme/events", `{"type": "user.created", "data": {"id": "usr_789",  "name": "Zo\u00eb", "n": 12345678901234567890123, "f": 1.50}}`)
		want(t, r, http.StatusAccepted)
		got := r.obj(t)
		evID, _ := got["id"].(string)
		if !strings.HasPrefix(evID, "evt_") || got["type"] != "user.created" || got["deliveries"] != float64(3) || got["created_at"] == nil {
			t.Fatalf("ingest answered %s, want a generated evt_ id and 3 deliveries", r.Body)
		}
		if tid, _ := got["trace_id"].(string); len(tid) != 32 || !isLowerHex(tid) {
			t.Fatalf("trace id %q, want 32 hex characters", tid)
		}

		r = admin.get("/api/v1/tenants/acme/events/" + evID)
		want(t, r, http.StatusOK)
		var ev struct {
			Data   json.RawMessage `json:"data"`
			Source string          `json:"source"`
		}
		json.Unmarshal(r.Body, &ev)
		if string(ev.Data) != `{"id":"usr_789","name":"Zoë","n":12345678901234567890123,"f":1.50}` || ev.Source != "api" {
			t.Fatalf("stored data %s source %s, want the canonical compact form with numbers as written", ev.Data, ev.Source)
		}

		r = admin.get("/api/v1/tenants/acme/events/" + evID + "/deliveries")
		want(t, r, http.StatusOK)
		statuses := map[string]int{}
		for _, d := range r.list(t) {
			statuses[fmt.Sprint(d["status"], " ", d["error"])]++
			if d["event_id"] != evID {
				t.Errorf("delivery %v is not of event %s", d, evID)
			}
		}
		if statuses["pending <nil>"] != 2 || statuses["failed endpoint_disabled"] != 1 {
			t.Fatalf("event deliveries %s, want 2 pending and 1 failed with error endpoint_disabled", r.Body)
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/events/evt_nope"), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/acme/events/evt_nope/deliveries"), http.StatusNotFound, "")
	})
}

func TestEvents_OwnIDIsIdempotent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{})

		first := admin.post("/api/v1/tenants/acme/events", `{"id": "order:42_a-b", "type": "order.paid", "data": {"total": 10}}`)
		want(t, first, http.StatusAccepted)
		if first.str(t, "id") != "order:42_a-b" {
			t.Fatalf("own id not kept: %s", first.Body)
		}
		// Same content written differently is the same event.
		again := admin.post("/api/v1/tenants/acme/events", `{"type": "order.paid", "id": "order:42_a-b", "data": { "total" : 10 }}`)
		want(t, again, http.StatusOK)
		if again.str(t, "created_at") != first.str(t, "created_at") || again.obj(t)["deliveries"] != float64(1) {
			t.Fatalf("re-post answered %s, want the stored event (%s)", again.Body, first.Body)
		}
		wantProblem(t, admin.post("/api/v1/tenants/acme/events", `{"id": "order:42_a-b", "type": "order.paid", "data": {"total": 11}}`), http.StatusConflict, "")
		wantProblem(t, admin.post("/api/v1/tenants/acme/events", `{"id": "order:42_a-b", "type": "order.refunded", "data": {"total": 10}}`), http.StatusConflict, "")
		r := admin.get("/api/v1/tenants/acme/deliveries")
		if n := len(r.list(t)); n != 1 {
			t.Fatalf("%d deliveries after re-posts, want 1", n)
		}
		// The same id in another tenant is another event.
		h.tenantWithKey(t, "globex")
		want(t, admin.post("/api/v1/tenants/globex/events", `{"id": "order:42_a-b", "type": "order.paid", "data": {"total": 99}}`), http.StatusAccepted)
	})
}

func TestEvents_InvalidInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		for _, tc := range []struct {
			body string
			loc  string
		}{
			{`{"data": {}}`, "body.type"},
			{`{"type": "", "data": {}}`, "body.type"},
			{`{"type": "user..created", "data": {}}`, "body.type"},
			{`{"type": "user created", "data": {}}`, "body.type"},
			{`{"type": "user.*", "data": {}}`, "body.type"},
			{`{"type": "` + strings.Repeat("a", 129) + `", "data": {}}`, "body.type"},
			{`{"type": "a"}`, "body.data"},
			{`{"type": "a", "data": [1]}`, "body.data"},
			{`{"type": "a", "data": "x"}`, "body.data"},
			{`{"type": "a", "data": null}`, "body.data"},
			{`{"type": "a", "data": {"k": 1, "k": 2}}`, "body.data.k"},
			{`{"type": "a", "data": {"s": "\ud800"}}`, "body.data.s"},
			{`{"type": "a", "data": {"deep": {"s": "\udfff x"}}}`, "body.data.deep.s"},
			{"{\"type\": \"a\", \"data\": {\"s\": \"\xff\xfe\"}}", "body.data.s"},
			{`{"type": "a", "data": {"n": 1e400}}`, "body.data.n"},
			{`{"type": "a", "data": {"ok": 1, "n": [-1e999]}}`, "body.data.n[0]"},
			{`{"type": "a", "data": {}, "id": "has.dot"}`, "body.id"},
			{`{"type": "a", "data": {}, "id": "spa ce"}`, "body.id"},
			{`{"type": "a", "data": {}, "id": "` + strings.Repeat("i", 129) + `"}`, "body.id"},
			{`{"type": "a", "data": {}, "id": 5}`, "body.id"},
			{`{"type": "a", "data": {}, "url": "http://evil.example/"}`, "body.url"},
		} {
			r := admin.post("/api/v1/tenants/acme/events", tc.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("POST %s: got %d, want 422: %s", tc.body, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		if r := admin.get("/api/v1/tenants/acme/events"); len(r.list(t)) != 0 {
			t.Fatalf("refused events were stored: %s", r.Body)
		}
	})
}

func TestEvents_CatalogSchemaAndArchive(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		want(t, admin.put("/api/v1/event-types/payment.succeeded", `{"schema": `+paymentSchema+`}`), http.StatusCreated)

		post := func(data string) *response {
			return admin.post("/api/v1/tenants/acme/events", `{"type": "payment.succeeded", "data": `+data+`}`)
		}
		want(t, post(`{"amount": 100, "items": [{"sku": "a"}]}`), http.StatusAccepted)
		// Integers beyond float64 still validate as integers.
		want(t, post(`{"amount": 123456789012345678901234567890}`), http.StatusAccepted)
		wantProblem(t, post(`{"amount": 0}`), http.StatusUnprocessableEntity, "body.data.amount")
		wantProblem(t, post(`{"amount": "100"}`), http.StatusUnprocessableEntity, "body.data.amount")
		wantProblem(t, post(`{"amount": 1.5}`), http.StatusUnprocessableEntity, "body.data.amount")
		wantProblem(t, post(`{"amount": 5, "items": [{"sku": "a"}, {"sku": 7}]}`), http.StatusUnprocessableEntity, "body.data.items[1].sku")
		wantProblem(t, post(`{}`), http.StatusUnprocessableEntity, "body.data")

		// The schema changes take effect at once.
		want(t, admin.put("/api/v1/event-types/payment.succeeded", `{"schema": {"type": "object", "required": ["currency"]}}`), http.StatusOK)
		wantProblem(t, post(`{"amount": 100}`), http.StatusUnprocessableEntity, "body.data")
		want(t, post(`{"currency": "EUR"}`), http.StatusAccepted)

		want(t, admin.put("/api/v1/event-types/payment.succeeded", `{"archived": true}`), http.StatusOK)
		r := post(`{"currency": "EUR"}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.type")
		if !strings.Contains(string(r.Body), "archived") {
			t.Fatalf("refusal does not say the type is archived: %s", r.Body)
		}
		// Types not in the catalog are accepted.
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "not.in.catalog", "data": {}}`), http.StatusAccepted)
	})
}

func TestEvents_TraceparentAndList(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		post := func(typ, traceparent string) *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: h.admin,
				body: map[string]any{"type": typ, "data": map[string]any{}}, header: map[string]string{"traceparent": traceparent}})
		}
		r := post("a.one", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		want(t, r, http.StatusAccepted)
		if r.str(t, "trace_id") != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("trace id %s, want the traceparent's", r.Body)
		}
		for _, bad := range []string{
			"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
			"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
			"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
			"garbage",
		} {
			r := post("b.two", bad)
			want(t, r, http.StatusAccepted)
			if tid := r.str(t, "trace_id"); tid == "4bf92f3577b34da6a3ce929d0e0e4736" || len(tid) != 32 || strings.Trim(tid, "0") == "" {
				t.Fatalf("traceparent %q gave trace id %q, want a fresh random one", bad, tid)
			}
		}
		// A later version may carry more fields.
		r = post("a.one", "01-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01-more")
		if r.str(t, "trace_id") != "4bf92f3577b34da6a3ce929d0e0e4737" {
			t.Fatalf("future-version traceparent not read: %s", r.Body)
		}

		r = admin.get("/api/v1/tenants/acme/events?type=a.one")
		want(t, r, http.StatusOK)
		if l := r.list(t); len(l) != 2 || l[0]["type"] != "a.one" {
			t.Fatalf("?type=a.one gave %s", r.Body)
		}
		if l := admin.get("/api/v1/tenants/acme/events").list(t); len(l) != 8 {
			t.Fatalf("%d events listed, want 8", len(l))
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/events?type=a..b"), http.StatusUnprocessableEntity, "query.type")
	})
}
