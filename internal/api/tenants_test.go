package api

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestTenants_CRUD(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)

		r := admin.post("/api/v1/tenants", `{"id": "acme", "name": "Acme Inc", "metadata": {"plan": "pro", "big": 12345678901234567890123}}`)
		want(t, r, http.StatusCreated)
		got := r.obj(t)
		if got["id"] != "acme" || got["name"] != "Acme Inc" {
			t.Fatalf("created %v, want id acme and name Acme Inc", got)
		}
		if _, err := time.Parse(time.RFC3339, got["created_at"].(string)); err != nil {
			t.Fatalf("created_at %v is not RFC 3339: %v", got["created_at"], err)
		}

		r = admin.get("/api/v1/tenants/acme")
		want(t, r, http.StatusOK)
		if !containsBytes(r.Body, `"big":12345678901234567890123`) {
			t.Fatalf("metadata number was not kept exactly: %s", r.Body)
		}

		// PATCH changes only what it is given.
		r = admin.patch("/api/v1/tenants/acme", map[string]any{"name": "Acme Corp"})
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["name"] != "Acme Corp" || got["metadata"].(map[string]any)["plan"] != "pro" {
			t.Fatalf("after patching the name: %v, want name Acme Corp and metadata kept", got)
		}
		r = admin.patch("/api/v1/tenants/acme", map[string]any{"metadata": map[string]any{"plan": "free"}})
		want(t, r, http.StatusOK)
		if got := r.obj(t); got["name"] != "Acme Corp" || got["metadata"].(map[string]any)["plan"] != "free" {
			t.Fatalf("after patching metadata: %v", got)
		}

		wantProblem(t, admin.post("/api/v1/tenants", map[string]any{"id": "acme"}), http.StatusConflict, "")

		want(t, admin.delete("/api/v1/tenants/acme"), http.StatusNoContent)
		wantProblem(t, admin.get("/api/v1/tenants/acme"), http.StatusNotFound, "")
		wantProblem(t, admin.delete("/api/v1/tenants/acme"), http.StatusNotFound, "")
		wantProblem(t, admin.patch("/api/v1/tenants/acme", map[string]any{"name": "x"}), http.StatusNotFound, "")
	})
}

func TestTenants_InvalidInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		for _, tc := range []struct {
			body any
			loc  string
		}{
			{map[string]any{"id": ""}, "body.id"},
			{map[string]any{"id": "has space"}, "body.id"},
			{map[string]any{"id": "a/b"}, "body.id"},
			{map[string]any{"id": string(make([]byte, 65))}, "body.id"},
			{map[string]any{"name": "no id"}, "body.id"},
			{map[string]any{"id": 7}, "body.id"},
			{map[string]any{"id": "ok", "metadata": []int{1}}, "body.metadata"},
			{map[string]any{"id": "ok", "metadata": "x"}, "body.metadata"},
			{map[string]any{"id": "ok", "surprise": true}, "body.surprise"},
		} {
			r := admin.post("/api/v1/tenants", tc.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("POST %v: got %d, want 422: %s", tc.body, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		want(t, admin.post("/api/v1/tenants", map[string]any{"id": "A-z_0.9"}), http.StatusCreated)
	})
}

func TestTenants_ListPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		for i := range 5 {
			want(t, admin.post("/api/v1/tenants", map[string]any{"id": fmt.Sprintf("t%d", i)}), http.StatusCreated)
		}
		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("more pages than tenants: %v", seen)
			}
			path := "/api/v1/tenants?limit=2"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := admin.get(path)
			want(t, r, http.StatusOK)
			for _, tn := range r.list(t) {
				seen = append(seen, tn["id"].(string))
			}
			next, _ := r.obj(t)["next_cursor"].(string)
			if next == "" {
				if _, ok := r.obj(t)["next_cursor"]; !ok {
					t.Fatalf("last page has no next_cursor member (want null): %s", r.Body)
				}
				break
			}
			cursor = next
		}
		if fmt.Sprint(seen) != "[t4 t3 t2 t1 t0]" {
			t.Fatalf("pages gave %v, want [t4 t3 t2 t1 t0] (newest first, each once)", seen)
		}
	})
}

func TestLists_BadLimitOrCursor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		for _, path := range []string{
			"/api/v1/tenants", "/api/v1/event-types", "/api/v1/formats",
			"/api/v1/tenants/acme/endpoints", "/api/v1/tenants/acme/events", "/api/v1/tenants/acme/deliveries",
		} {
			for _, limit := range []string{"0", "251", "-1", "abc", "1.5", "99999999999999999999"} {
				wantProblem(t, admin.get(path+"?limit="+limit), http.StatusUnprocessableEntity, "query.limit")
			}
			wantProblem(t, admin.get(path+"?cursor=not-a-cursor"), http.StatusUnprocessableEntity, "query.cursor")
			want(t, admin.get(path+"?limit=250"), http.StatusOK)
			if r := admin.get(path + "?limit=1"); len(r.list(t)) > 1 {
				t.Fatalf("%s?limit=1 gave %d rows", path, len(r.list(t)))
			}
		}
		wantProblem(t, admin.get("/api/v1/tenants?limit=%zz"), http.StatusBadRequest, "")
	})
}

// A cursor in the server's form whose time no row can have is the
// client's error on every list and database. PostgreSQL answered the
// first of these with "timestamp out of range (SQLSTATE 22008)", a 500.
func TestLists_HostileCursorIs422(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		ev := admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})
		want(t, ev, http.StatusAccepted)
		paths := []string{
			"/api/v1/tenants", "/api/v1/event-types", "/api/v1/formats",
			"/api/v1/tenants/acme/endpoints", "/api/v1/tenants/acme/events", "/api/v1/tenants/acme/deliveries",
			"/api/v1/tenants/acme/endpoints/" + ep + "/deliveries",
			"/api/v1/tenants/acme/events/" + ev.str(t, "id") + "/deliveries",
		}
		for _, at := range []time.Time{
			time.UnixMicro(-210866803200000001), time.UnixMicro(math.MinInt64), time.UnixMicro(math.MaxInt64),
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			c := url.QueryEscape(store.EncodeCursor(at, "x"))
			for _, path := range paths {
				r := admin.get(path + "?cursor=" + c)
				wantProblem(t, r, http.StatusUnprocessableEntity, "query.cursor")
			}
		}
	})
}

func TestKeys_Create(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		want(t, admin.post("/api/v1/tenants", map[string]any{"id": "acme"}), http.StatusCreated)
		r := admin.post("/api/v1/tenants/acme/keys", map[string]any{"name": "ci"})
		want(t, r, http.StatusCreated)
		got := r.obj(t)
		key, _ := got["key"].(string)
		if got["tenant_id"] != "acme" || got["name"] != "ci" || len(key) < 40 || got["id"].(string)[:4] != "key_" {
			t.Fatalf("key answer %v", got)
		}
		k, err := st.KeyGetByHash(t.Context(), apikey.Hash(key))
		if err != nil || k.TenantID != "acme" {
			t.Fatalf("stored key for the hash: %+v, %v; want acme's key", k, err)
		}
		// Without a body too.
		want(t, admin.post("/api/v1/tenants/acme/keys", nil), http.StatusCreated)
		wantProblem(t, admin.post("/api/v1/tenants/nobody/keys", nil), http.StatusNotFound, "")
		// The key itself never reaches the log.
		if containsBytes([]byte(h.logs.String()), key) {
			t.Fatalf("the log holds the key")
		}
	})
}

func containsBytes(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
