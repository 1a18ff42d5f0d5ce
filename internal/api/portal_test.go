package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestTenants_PortalOrigins(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		r := admin.post("/api/v1/tenants", map[string]any{"id": "acme"})
		want(t, r, http.StatusCreated)
		if o, ok := r.obj(t)["portal_origins"].([]any); !ok || len(o) != 0 {
			t.Fatalf("a new tenant's portal_origins = %v, want []", r.obj(t)["portal_origins"])
		}
		r = admin.post("/api/v1/tenants", map[string]any{"id": "globex", "portal_origins": []string{"https://App.Globex.example:443"}})
		want(t, r, http.StatusCreated)
		if o := r.obj(t)["portal_origins"].([]any); len(o) != 1 || o[0] != "https://app.globex.example" {
			t.Fatalf("portal_origins = %v, want the origin in canonical form", o)
		}
		wantProblem(t, admin.post("/api/v1/tenants", map[string]any{"id": "bad", "portal_origins": []string{"https://a.example/path"}}),
			http.StatusUnprocessableEntity, "body.portal_origins[0]")
		wantProblem(t, admin.patch("/api/v1/tenants/acme", map[string]any{"portal_origins": []string{"https://ok.example", "*"}}),
			http.StatusUnprocessableEntity, "body.portal_origins[1]")
		want(t, admin.patch("/api/v1/tenants/acme", map[string]any{"portal_origins": []string{"http://localhost:3000"}}), http.StatusOK)
		want(t, admin.patch("/api/v1/tenants/acme", map[string]any{"name": "Acme"}), http.StatusOK)
		if o := admin.get("/api/v1/tenants/acme").obj(t)["portal_origins"].([]any); len(o) != 1 || o[0] != "http://localhost:3000" {
			t.Fatalf("after patching the name, portal_origins = %v, want them kept", o)
		}
	})
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	h := newHarness(t, st)
	admin := h.as(h.admin)
	acme := h.as(h.tenantWithKey(t, "acme"))
	h.tenantWithKey(t, "globex")

	before := time.Now()
	r := admin.post("/api/v1/tenants/acme/portal-links", map[string]any{})
	want(t, r, http.StatusCreated)
	u, err := url.Parse(r.str(t, "url"))
	if err != nil || u.Scheme != "http" || u.Host != "example.com" || u.Path != portal.Path || u.Query().Get("token") == "" {
		t.Fatalf("url %q, want an absolute URL of this server's %s with a token", r.str(t, "url"), portal.Path)
	}
	exp, err := time.Parse(time.RFC3339, r.str(t, "expires_at"))
	if err != nil || exp.Before(before.Add(time.Hour-2*time.Second)) || exp.After(time.Now().Add(time.Hour)) {
		t.Fatalf("expires_at %q, want an hour from now", r.str(t, "expires_at"))
	}
	tid, _, err := h.srv.portal.Check(t.Context(), u.Query().Get("token"))
	if err != nil || tid != "acme" {
		t.Fatalf("the link's token is for %q (%v), want acme", tid, err)
	}

	// The tenant's own key may make one; another tenant's may not.
	want(t, acme.post("/api/v1/tenants/acme/portal-links", map[string]any{"expires_in": "5m"}), http.StatusCreated)
	r = acme.post("/api/v1/tenants/globex/portal-links", map[string]any{})
	if r.Code != http.StatusForbidden && r.Code != http.StatusNotFound {
		t.Fatalf("acme's key making globex's link: %d, want 403 or 404", r.Code)
	}
	for _, bad := range []string{"30s", "25h", "-1h", "soon"} {
		wantProblem(t, admin.post("/api/v1/tenants/acme/portal-links", map[string]any{"expires_in": bad}), http.StatusUnprocessableEntity, "body.expires_in")
	}
	wantProblem(t, admin.post("/api/v1/tenants/nobody/portal-links", map[string]any{}), http.StatusNotFound, "")

	// Behind a TLS proxy the link is https.
	h2 := newHarness(t, st, func(c *Config) { c.TrustForwardedProto = true })
	r = h2.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/portal-links", body: "{}", key: h2.admin,
		header: map[string]string{"X-Forwarded-Proto": "https"}})
	want(t, r, http.StatusCreated)
	if !strings.HasPrefix(r.str(t, "url"), "https://example.com/portal?token=") {
		t.Fatalf("url behind a TLS proxy = %q, want https", r.str(t, "url"))
	}
	if strings.Contains(h.logs.String()+h2.logs.String(), u.Query().Get("token")) {
		t.Fatal("a portal token is in the server log")
	}
}
