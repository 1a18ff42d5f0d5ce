package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

const acmeFormat = `{
	"signature": {"scheme": "timestamped", "header": "X-Acme-Signature"},
	"body": {"id": "{{event.id}}", "type": "{{event.type}}", "created": "{{event.created_unix}}", "data": "{{event.data}}"},
	"retry": {"schedule": ["1s", "5s"], "on": "5xx"}
}`

func TestFormats_PutGetListDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)

		r := admin.put("/api/v1/formats/acme-v1", acmeFormat)
		want(t, r, http.StatusCreated)
		got := r.obj(t)
		if got["name"] != "acme-v1" || got["json"] != "compact" || got["timeout"] != "30s" {
			t.Fatalf("created format %s, want the name from the path and defaults filled in", r.Body)
		}
		if sig := got["signature"].(map[string]any); sig["scheme"] != "timestamped" || sig["header"] != "X-Acme-Signature" {
			t.Fatalf("signature %v", sig)
		}

		// Replacing answers 200; the name may be in the body when it matches.
		r = admin.put("/api/v1/formats/acme-v1", `{"name": "acme-v1", "signature": {"scheme": "timestamped", "header": "X-Acme-Sig"}}`)
		want(t, r, http.StatusOK)
		r = admin.get("/api/v1/formats/acme-v1")
		want(t, r, http.StatusOK)
		if sig := r.obj(t)["signature"].(map[string]any); sig["header"] != "X-Acme-Sig" {
			t.Fatalf("after replacing: %s", r.Body)
		}

		r = admin.get("/api/v1/formats")
		want(t, r, http.StatusOK)
		names := map[string]bool{}
		for _, f := range r.list(t) {
			names[f["name"].(string)] = true
		}
		if !names["standard-webhooks"] || !names["acme-v1"] || len(names) != 2 {
			t.Fatalf("list has %v, want standard-webhooks and acme-v1", names)
		}
		r = admin.get("/api/v1/formats?limit=1")
		if l := r.list(t); len(l) != 1 || l[0]["name"] != "acme-v1" || r.obj(t)["next_cursor"] == nil {
			t.Fatalf("first page of one: %s, want acme-v1 (newest) and a next cursor", r.Body)
		}
		r = admin.get("/api/v1/formats?limit=1&cursor=" + r.str(t, "next_cursor"))
		if l := r.list(t); len(l) != 1 || l[0]["name"] != "standard-webhooks" || r.obj(t)["next_cursor"] != nil {
			t.Fatalf("second page of one: %s, want standard-webhooks and no next cursor", r.Body)
		}

		want(t, admin.delete("/api/v1/formats/acme-v1"), http.StatusNoContent)
		wantProblem(t, admin.get("/api/v1/formats/acme-v1"), http.StatusNotFound, "")
		wantProblem(t, admin.delete("/api/v1/formats/acme-v1"), http.StatusNotFound, "")
	})
}

func TestFormats_BuiltinCannotChange(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		r := admin.get("/api/v1/formats/standard-webhooks")
		want(t, r, http.StatusOK)
		if sig := r.obj(t)["signature"].(map[string]any); sig["scheme"] != "standard-webhooks" {
			t.Fatalf("built-in format: %s", r.Body)
		}
		wantProblem(t, admin.put("/api/v1/formats/standard-webhooks", `{}`), http.StatusConflict, "")
		wantProblem(t, admin.delete("/api/v1/formats/standard-webhooks"), http.StatusConflict, "")
	})
}

func TestFormats_Invalid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		for _, tc := range []struct {
			name, body, loc string
		}{
			{"x", `{"signature": {"scheme": "rot13"}}`, "body.signature.scheme"},
			{"x", `{"signature": {"scheme": "timestamped"}}`, "body.signature.header"},
			{"x", `{"retry": {"schedule": ["soon"]}}`, "body.retry.schedule[0]"},
			{"x", `{"timeout": "forever"}`, "body.timeout"},
			{"x", `{"body": {"id": "{{event.nope}}"}}`, ""},
			{"x", `{"json": "yaml"}`, "body.json"},
			{"x", `{"name": "y"}`, "body.name"},
			{"x", `{"colour": "blue"}`, "body.colour"},
			{"x", `{"headers": {"X-Ok": 5}}`, "body.headers.X-Ok"},
			// Header injection: accepted with 201 before issue 12.
			{"x", `{"headers": {"X-A": "a\r\nInjected: yes"}}`, "body.headers.X-A"},
			{"x", `{"headers": {"X-A": "{{event.type}}\u0000"}}`, "body.headers.X-A"},
			{"bad name!", `{}`, "path.name"},
		} {
			r := admin.put("/api/v1/formats/"+url.PathEscape(tc.name), tc.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("PUT %s %s: got %d, want 422: %s", tc.name, tc.body, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		wantProblem(t, admin.put("/api/v1/formats/x", `{"signature": `), http.StatusBadRequest, "")
		wantProblem(t, admin.get("/api/v1/formats/x"), http.StatusNotFound, "")
	})
}

func TestFormats_InUseCannotBeDeleted(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		want(t, admin.put("/api/v1/formats/acme-v1", acmeFormat), http.StatusCreated)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{"format": "acme-v1"})
		r := admin.delete("/api/v1/formats/acme-v1")
		wantProblem(t, r, http.StatusConflict, "")
		want(t, admin.delete("/api/v1/tenants/acme/endpoints/"+ep["id"].(string)), http.StatusNoContent)
		want(t, admin.delete("/api/v1/formats/acme-v1"), http.StatusNoContent)
	})
}

// TestFormats_ReplaceMustSuitEndpointSecrets: a format cannot be replaced
// with a scheme its endpoints' secrets cannot sign for.
func TestFormats_ReplaceMustSuitEndpointSecrets(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		plain := map[string]any{"name": "plain", "signature": map[string]any{"scheme": "body", "header": "X-Sig"}}
		want(t, admin.put("/api/v1/formats/plain", plain), http.StatusCreated)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{"format": "plain", "secret": "a-plain-shared-secret"})

		toStandard := map[string]any{"name": "plain", "signature": map[string]any{"scheme": "standard-webhooks"}}
		r := admin.put("/api/v1/formats/plain", toStandard)
		wantProblem(t, r, http.StatusConflict, "")
		if !strings.Contains(string(r.Body), ep["id"].(string)) {
			t.Errorf("the 409 does not name the endpoint: %s", r.Body)
		}
		// Another scheme keyed by the secret's bytes is fine.
		want(t, admin.put("/api/v1/formats/plain", map[string]any{"name": "plain", "signature": map[string]any{"scheme": "timestamped", "header": "X-Sig"}}), http.StatusOK)
		// After a rotation to a generated secret, the switch is allowed.
		want(t, admin.post("/api/v1/tenants/acme/endpoints/"+ep["id"].(string)+"/rotate-secret", map[string]any{"grace": "0s"}), http.StatusOK)
		want(t, admin.put("/api/v1/formats/plain", toStandard), http.StatusOK)
	})
}

// A body that repeats the event's data is allowed, with a warning in the
// answer's Herald-Warning header; one copy draws none.
func TestFormats_PutWarnsOfRepeatedData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	admin := h.as(h.admin)
	r := admin.put("/api/v1/formats/twice", `{"body": {"a": "{{event.data}}", "b": "{{event.data.id}}"}}`)
	want(t, r, http.StatusCreated)
	if w := r.Header.Get("Herald-Warning"); !strings.Contains(w, "appears 2 times") {
		t.Errorf("Herald-Warning %q, want the repeated data named", w)
	}
	r = admin.put("/api/v1/formats/once", `{"body": {"a": "{{event.data}}"}}`)
	want(t, r, http.StatusCreated)
	if w := r.Header.Get("Herald-Warning"); w != "" {
		t.Errorf("Herald-Warning %q for one copy, want none", w)
	}
}
