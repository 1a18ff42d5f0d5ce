package api

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestZZDebug(t *testing.T) {
	h := newHarness(t, dbtest.SQLite(t))
	admin := h.as(h.admin)
	want(t, admin.post("/api/v1/tenants", map[string]any{"id": "acme"}), http.StatusCreated)
	r := admin.get("/api/v1/tenants/acme")
	t.Logf("%d %s", r.Code, r.Body)
	r = admin.post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://example.com/"})
	t.Logf("%d %s", r.Code, r.Body)
	t.Log(h.logs.String())
}
