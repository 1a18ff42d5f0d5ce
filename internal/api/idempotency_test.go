package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestIdempotency_ReplaysFirstAnswer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{})
		post := func(key, idem, body string) *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: key, body: body,
				header: map[string]string{"Idempotency-Key": idem}})
		}
		body := `{"type": "user.created", "data": {"n": 1}}`
		first := post(h.admin, "k1", body)
		want(t, first, http.StatusAccepted)
		again := post(h.admin, "k1", body)
		want(t, again, http.StatusAccepted)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("repeat answered %s (replayed %q), want the first answer %s", again.Body, again.Header.Get("Idempotent-Replayed"), first.Body)
		}
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/events").list(t)); n != 1 {
			t.Fatalf("%d events after a repeated POST, want 1", n)
		}

		// The same key for another request is the client's mistake.
		r := post(h.admin, "k1", `{"type": "user.created", "data": {"n": 2}}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "header.Idempotency-Key")
		wantProblem(t, h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "x"}`,
			header: map[string]string{"Idempotency-Key": "k1"}}), http.StatusUnprocessableEntity, "header.Idempotency-Key")

		// Keys are per caller: another API key's k1 is its own.
		tenantKey := h.as(h.admin).post("/api/v1/tenants/acme/keys", nil).str(t, "key")
		want(t, post(tenantKey, "k1", body), http.StatusAccepted)
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/events").list(t)); n != 2 {
			t.Fatalf("%d events, want 2: another caller's key is not a repeat", n)
		}

		// Errors are not kept: after fixing the request, the same key works.
		bad := `{"type": "user..created", "data": {}}`
		wantProblem(t, post(h.admin, "k2", bad), http.StatusUnprocessableEntity, "body.type")
		wantProblem(t, post(h.admin, "k2", bad), http.StatusUnprocessableEntity, "body.type")
		want(t, post(h.admin, "k2", `{"type": "user.created", "data": {}}`), http.StatusAccepted)
	})
}

func TestIdempotency_TenantCreate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		post := func() *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "acme"}`,
				header: map[string]string{"Idempotency-Key": "create-acme"}})
		}
		want(t, post(), http.StatusCreated)
		// Without the header, the repeat would be a 409.
		r := post()
		want(t, r, http.StatusCreated)
		if r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("replayed content type %q", r.Header.Get("Content-Type"))
		}
		wantProblem(t, h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "acme"}`,
			header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}), http.StatusUnprocessableEntity, "header.Idempotency-Key")
	})
}
