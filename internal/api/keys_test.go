package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// wantKeyInfo checks that a listed key shows what a list may, and never
// the key or its hash.
func wantKeyInfo(t *testing.T, k map[string]any, tenantID string) {
	t.Helper()
	for _, member := range []string{"key", "hash", "key_omitted"} {
		if _, ok := k[member]; ok {
			t.Errorf("listed key has %q: %v", member, k)
		}
	}
	if id, _ := k["id"].(string); len(id) < 5 || id[:4] != "key_" {
		t.Errorf("listed key id %v, want key_...", k["id"])
	}
	if _, err := time.Parse(time.RFC3339, k["created_at"].(string)); err != nil {
		t.Errorf("created_at %v: %v", k["created_at"], err)
	}
	if _, ok := k["last_used_at"]; !ok {
		t.Errorf("listed key has no last_used_at: %v", k)
	}
	if got, _ := k["tenant_id"].(string); got != tenantID {
		t.Errorf("listed key tenant_id %q, want %q", got, tenantID)
	}
}

func TestKeys_ATenantsKeysAreListedAndDeleted(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		key := h.tenantWithKey(t, "acme")
		globex := h.tenantWithKey(t, "globex")
		second := admin.post("/api/v1/tenants/acme/keys", map[string]any{"name": "deploy"})
		want(t, second, http.StatusCreated)
		// The first key is used; the second never is.
		want(t, h.as(key).get("/api/v1/tenants/acme"), http.StatusOK)
		h.srv.keys.Wait()

		r := h.as(key).get("/api/v1/tenants/acme/keys")
		want(t, r, http.StatusOK)
		keys := r.list(t)
		if len(keys) != 2 || keys[0]["id"] != second.str(t, "id") || keys[0]["name"] != "deploy" || keys[1]["name"] != "test" {
			t.Fatalf("acme's keys = %v, want deploy then test, newest first", keys)
		}
		for _, k := range keys {
			wantKeyInfo(t, k, "acme")
		}
		if keys[0]["last_used_at"] != nil {
			t.Errorf("an unused key's last_used_at = %v, want null", keys[0]["last_used_at"])
		}
		if used, err := time.Parse(time.RFC3339, keys[1]["last_used_at"].(string)); err != nil || time.Since(used) > time.Hour {
			t.Errorf("the used key's last_used_at = %v (%v), want about now", keys[1]["last_used_at"], err)
		}

		// Paged like every list, and bounded.
		r = admin.get("/api/v1/tenants/acme/keys?limit=1")
		want(t, r, http.StatusOK)
		next := r.obj(t)["next_cursor"].(string)
		r = admin.get("/api/v1/tenants/acme/keys?limit=1&cursor=" + next)
		if page := r.list(t); len(page) != 1 || page[0]["name"] != "test" || r.obj(t)["next_cursor"] != nil {
			t.Fatalf("second page = %s, want the key test alone and no next cursor", r.Body)
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/keys?limit=251"), http.StatusUnprocessableEntity, "query.limit")
		wantProblem(t, admin.get("/api/v1/tenants/acme/keys?cursor=nonsense"), http.StatusUnprocessableEntity, "query.cursor")

		// Another tenant's key sees nothing of acme's, and deletes none.
		wantProblem(t, h.as(globex).get("/api/v1/tenants/acme/keys"), http.StatusNotFound, "")
		wantProblem(t, h.as(globex).delete("/api/v1/tenants/acme/keys/"+second.str(t, "id")), http.StatusNotFound, "")
		globexKeys := admin.get("/api/v1/tenants/globex/keys").list(t)
		wantProblem(t, admin.delete("/api/v1/tenants/acme/keys/"+globexKeys[0]["id"].(string)), http.StatusNotFound, "")
		wantProblem(t, admin.get("/api/v1/tenants/initech/keys"), http.StatusNotFound, "")

		// Deleted, the key is refused from the next request on.
		want(t, h.as(key).delete("/api/v1/tenants/acme/keys/"+second.str(t, "id")), http.StatusNoContent)
		wantProblem(t, h.as(second.str(t, "key")).get("/api/v1/tenants/acme"), http.StatusUnauthorized, "")
		wantProblem(t, admin.delete("/api/v1/tenants/acme/keys/"+second.str(t, "id")), http.StatusNotFound, "")
		if left := admin.get("/api/v1/tenants/acme/keys").list(t); len(left) != 1 || left[0]["name"] != "test" {
			t.Fatalf("acme's keys after the delete = %v, want test alone", left)
		}
		// A key may delete itself; then it is refused too.
		keyID := admin.get("/api/v1/tenants/acme/keys").list(t)[0]["id"].(string)
		want(t, h.as(key).delete("/api/v1/tenants/acme/keys/"+keyID), http.StatusNoContent)
		wantProblem(t, h.as(key).get("/api/v1/tenants/acme"), http.StatusUnauthorized, "")
		want(t, h.as(globex).get("/api/v1/tenants/globex"), http.StatusOK)
	})
}

// A key deleted through one node is refused by another at its next
// request: reads look every key up, and an event post, whose key the
// node may remember (apikey.KeyTTL), has its transaction find the key.
func TestKeys_ADeletedKeyIsRefusedByEveryNode(t *testing.T) {
	t.Parallel()
	nodes := map[string]func(t *testing.T) [2]store.Store{
		"sqlite": func(t *testing.T) [2]store.Store {
			path := dbtest.SQLitePath(t)
			return [2]store.Store{dbtest.OpenSQLite(t, path, true), dbtest.OpenSQLite(t, path, false)}
		},
		"postgres": func(t *testing.T) [2]store.Store {
			url := dbtest.PostgresURL(t)
			return [2]store.Store{dbtest.OpenPostgres(t, url, true), dbtest.OpenPostgres(t, url, false)}
		},
	}
	for name, open := range nodes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			a := newHarness(t, st[0])
			b := newHarness(t, st[1])
			key := a.tenantWithKey(t, "acme")
			want(t, b.as(key).get("/api/v1/tenants/acme"), http.StatusOK)
			// b now remembers the key for its event posts.
			want(t, b.as(key).post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
			keyID := a.as(a.admin).get("/api/v1/tenants/acme/keys").list(t)[0]["id"].(string)

			want(t, a.as(a.admin).delete("/api/v1/tenants/acme/keys/"+keyID), http.StatusNoContent)

			wantProblem(t, b.as(key).post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusUnauthorized, "")
			wantProblem(t, b.as(key).get("/api/v1/tenants/acme"), http.StatusUnauthorized, "")
			wantProblem(t, a.as(key).get("/api/v1/tenants/acme"), http.StatusUnauthorized, "")
			wantProblem(t, a.as(key).post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusUnauthorized, "")
			// An admin key's posts are checked the same way.
			want(t, b.as(b.admin).post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
		})
	}
}

func TestKeys_AdminKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		tenantKey := h.tenantWithKey(t, "acme")

		r := admin.post("/api/v1/keys", map[string]any{"name": "ops"})
		want(t, r, http.StatusCreated)
		created := r.obj(t)
		ops := r.str(t, "key")
		if created["name"] != "ops" || len(ops) < 10 || created["id"] == nil || created["created_at"] == nil {
			t.Fatalf("created admin key %v, want its id, key, name and creation", created)
		}
		if _, ok := created["tenant_id"]; ok {
			t.Errorf("an admin key's answer has a tenant_id: %v", created)
		}
		// It is an admin key: it may do what only those may.
		want(t, h.as(ops).get("/api/v1/tenants"), http.StatusOK)
		want(t, admin.post("/api/v1/keys", nil), http.StatusCreated)
		wantProblem(t, admin.post("/api/v1/keys", map[string]any{"name": "x", "extra": 1}), http.StatusUnprocessableEntity, "body.extra")

		// A tenant key may not touch admin keys.
		wantProblem(t, h.as(tenantKey).post("/api/v1/keys", map[string]any{"name": "mine"}), http.StatusForbidden, "")
		wantProblem(t, h.as(tenantKey).get("/api/v1/keys"), http.StatusForbidden, "")
		wantProblem(t, h.as(tenantKey).delete("/api/v1/keys/"+created["id"].(string)), http.StatusForbidden, "")

		// The list: the admin keys only, never a tenant's, never the key.
		list := admin.get("/api/v1/keys").list(t)
		if len(list) != 3 || list[1]["id"] != created["id"] {
			t.Fatalf("admin keys = %v, want 3 with ops second", list)
		}
		for _, k := range list {
			wantKeyInfo(t, k, "")
		}
		wantProblem(t, admin.get("/api/v1/keys?limit=0"), http.StatusUnprocessableEntity, "query.limit")

		// A tenant key is not deleted as an admin key.
		tenantKeyID := admin.get("/api/v1/tenants/acme/keys").list(t)[0]["id"].(string)
		wantProblem(t, admin.delete("/api/v1/keys/"+tenantKeyID), http.StatusNotFound, "")
		want(t, h.as(tenantKey).get("/api/v1/tenants/acme"), http.StatusOK)

		// Delete every admin key but ops, with ops: each is refused at once.
		for _, k := range list {
			if k["id"] == created["id"] {
				continue
			}
			want(t, h.as(ops).delete("/api/v1/keys/"+k["id"].(string)), http.StatusNoContent)
		}
		wantProblem(t, admin.get("/api/v1/tenants"), http.StatusUnauthorized, "")
		// ops is the last: it stays.
		r = h.as(ops).delete("/api/v1/keys/" + created["id"].(string))
		wantProblem(t, r, http.StatusConflict, "")
		if detail := r.str(t, "detail"); !strings.Contains(detail, "last admin key") {
			t.Errorf("409 detail %q, want it to say this is the last admin key", detail)
		}
		want(t, h.as(ops).get("/api/v1/tenants"), http.StatusOK)
		wantProblem(t, h.as(ops).delete("/api/v1/keys/key_none"), http.StatusNotFound, "")
	})
}
