package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	engine "github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestEndpoints_CreateDefaultsAndSecretShownOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")

		r := admin.post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://example.com/hook"})
		want(t, r, http.StatusCreated)
		got := r.obj(t)
		epID, _ := got["id"].(string)
		secret, _ := got["secret"].(string)
		switch {
		case !strings.HasPrefix(epID, "ep_"):
			t.Fatalf("id %q, want ep_...", epID)
		case !strings.HasPrefix(secret, "whsec_"):
			t.Fatalf("secret %q, want a generated whsec_ secret", secret)
		case got["status"] != "active" || got["enabled"] != true:
			t.Fatalf("status %v enabled %v, want active and true", got["status"], got["enabled"])
		case got["format"] != "standard-webhooks":
			t.Fatalf("format %v, want the default standard-webhooks", got["format"])
		case len(got["events"].([]any)) != 1 || got["events"].([]any)[0] != "*":
			t.Fatalf("events %v, want [*]", got["events"])
		case got["rate_limit"] != float64(0) || got["created_at"] == nil || got["headers"] == nil || got["metadata"] == nil:
			t.Fatalf("missing fields: %s", r.Body)
		}

		r = admin.get("/api/v1/tenants/acme/endpoints/" + epID)
		want(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), secret) || r.obj(t)["secret"] != nil {
			t.Fatalf("GET shows the secret: %s", r.Body)
		}
		r = admin.get("/api/v1/tenants/acme/endpoints")
		want(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), secret) || len(r.list(t)) != 1 {
			t.Fatalf("list shows the secret or not one endpoint: %s", r.Body)
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Fatalf("the log holds the secret")
		}

		// Every field given is kept.
		r = admin.post("/api/v1/tenants/acme/endpoints", `{
			"url": "http://example.org:8443/in?x=1", "events": ["user.created", "project.*"], "description": "main",
			"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "enabled": false, "headers": {"X-Team": "red"},
			"rate_limit": 5, "metadata": {"n": 1.50}}`)
		want(t, r, http.StatusCreated)
		got = r.obj(t)
		if got["secret"] != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || got["status"] != "disabled" || got["rate_limit"] != float64(5) ||
			got["description"] != "main" || got["headers"].(map[string]any)["X-Team"] != "red" || got["url"] != "http://example.org:8443/in?x=1" {
			t.Fatalf("created %s", r.Body)
		}
		if !strings.Contains(string(r.Body), `"n":1.50`) {
			t.Fatalf("metadata number rewritten: %s", r.Body)
		}
	})
}

func TestEndpoints_InvalidInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		want(t, admin.put("/api/v1/formats/body-sig", `{"signature": {"scheme": "body", "header": "X-Sig"}}`), http.StatusCreated)
		for _, tc := range []struct {
			body string
			loc  string
		}{
			{`{}`, "body.url"},
			{`{"url": ""}`, "body.url"},
			{`{"url": "example.com/hook"}`, "body.url"},
			{`{"url": "/hook"}`, "body.url"},
			{`{"url": "ftp://example.com/hook"}`, "body.url"},
			{`{"url": "javascript:alert(1)"}`, "body.url"},
			{`{"url": "https://user:pass@example.com/"}`, "body.url"},
			{`{"url": "https://user@example.com/"}`, "body.url"},
			{`{"url": "https://example.com/#frag"}`, "body.url"},
			{`{"url": "https:///nohost"}`, "body.url"},
			{`{"url": "https://example.com:0/"}`, "body.url"},
			{`{"url": "https://example.com:99999/"}`, "body.url"},
			{`{"url": "https://exa mple.com/"}`, "body.url"},
			{`{"url": "https://example.com/` + strings.Repeat("a", 2048) + `"}`, "body.url"},
			{`{"url": 5}`, "body.url"},
			{`{"url": "https://example.com/", "events": []}`, "body.events"},
			{`{"url": "https://example.com/", "events": ["a..b"]}`, "body.events[0]"},
			{`{"url": "https://example.com/", "events": ["ok", "*.a"]}`, "body.events[1]"},
			{`{"url": "https://example.com/", "events": ["a.*.b"]}`, "body.events[0]"},
			{`{"url": "https://example.com/", "events": ["user created"]}`, "body.events[0]"},
			{`{"url": "https://example.com/", "events": "*"}`, "body.events"},
			{`{"url": "https://example.com/", "rate_limit": -1}`, "body.rate_limit"},
			{`{"url": "https://example.com/", "rate_limit": 1.5}`, "body.rate_limit"},
			{`{"url": "https://example.com/", "rate_limit": 1e300}`, "body.rate_limit"},
			{`{"url": "https://example.com/", "format": "nope"}`, "body.format"},
			{`{"url": "https://example.com/", "secret": "plain-secret"}`, "body.secret"},
			{`{"url": "https://example.com/", "secret": "whsec_c2hvcnQ="}`, "body.secret"},
			{`{"url": "https://example.com/", "format": "body-sig", "secret": "short"}`, "body.secret"},
			{`{"url": "https://example.com/", "headers": {"Content-Type": "text/plain"}}`, "body.headers.Content-Type"},
			{`{"url": "https://example.com/", "headers": {"webhook-signature": "v1,forged"}}`, "body.headers.webhook-signature"},
			{`{"url": "https://example.com/", "format": "body-sig", "headers": {"x-sig": "forged"}}`, "body.headers.x-sig"},
			{`{"url": "https://example.com/", "headers": {"X-Bad": "a\r\nInjected: yes"}}`, "body.headers.X-Bad"},
			{`{"url": "https://example.com/", "headers": {"Bad Name": "x"}}`, "body.headers"},
			{`{"url": "https://example.com/", "metadata": [1]}`, "body.metadata"},
			{`{"url": "https://example.com/", "enabled": "yes"}`, "body.enabled"},
			{`{"url": "https://example.com/", "status": "active"}`, "body.status"},
		} {
			r := admin.post("/api/v1/tenants/acme/endpoints", tc.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("POST %s: got %d, want 422: %s", tc.body, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		// A secret of the user's own, valid for its scheme.
		r := admin.post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "format": "body-sig", "secret": "your_webhook_secret"}`)
		want(t, r, http.StatusCreated)
		if r.str(t, "secret") != "your_webhook_secret" {
			t.Fatalf("user secret not kept: %s", r.Body)
		}
		// A generated secret for a non-standard-webhooks format too.
		r = admin.post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "format": "body-sig"}`)
		want(t, r, http.StatusCreated)
		if !strings.HasPrefix(r.str(t, "secret"), "whsec_") {
			t.Fatalf("no generated secret: %s", r.Body)
		}
		wantProblem(t, admin.post("/api/v1/tenants/nobody/endpoints", `{"url": "https://example.com/"}`), http.StatusNotFound, "")
	})
}

func TestEndpoints_InternalDestinations(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		internal := []string{
			"http://127.0.0.1/", "http://127.8.9.1:8080/x", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
			"http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[fc00::1]/",
			"http://[fd12:3456::1]/", "http://[fe80::1%25eth0]/", "http://100.64.0.1/", "http://224.0.0.1/", "http://0.0.0.0/",
			"http://[::]/", "http://localhost/", "http://LOCALHOST:8080/", "http://localhost./", "http://api.localhost/",
			"http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/", "http://255.255.255.255/",
		}
		for _, u := range internal {
			r := admin.post("/api/v1/tenants/acme/endpoints", map[string]any{"url": u})
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("POST url %s: got %d, want 422: %s", u, r.Code, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, "body.url")
		}
		for _, u := range []string{"https://example.com/", "http://93.184.215.14/", "https://[2606:4700::1111]/", "https://localhost.example.com/"} {
			want(t, admin.post("/api/v1/tenants/acme/endpoints", map[string]any{"url": u}), http.StatusCreated)
		}
		// PATCH checks too.
		ep := h.endpoint(t, "acme", map[string]any{})
		wantProblem(t, admin.patch("/api/v1/tenants/acme/endpoints/"+ep["id"].(string), map[string]any{"url": "http://10.1.2.3/"}),
			http.StatusUnprocessableEntity, "body.url")
	})
}

func TestEndpoints_PrivateDestinationsAllowedAndCheckURL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st, func(c *Config) { c.AllowPrivateDestinations = true })
		h.tenantWithKey(t, "acme")
		want(t, h.as(h.admin).post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9000/"}), http.StatusCreated)
		wantProblem(t, h.as(h.admin).post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "ftp://127.0.0.1/"}), http.StatusUnprocessableEntity, "body.url")

		var checked []string
		h2 := newHarness(t, st, func(c *Config) {
			c.CheckURL = func(_ context.Context, raw string) error {
				checked = append(checked, raw)
				if strings.Contains(raw, "internal.example") {
					return errors.New("internal.example resolves to an internal address")
				}
				return nil
			}
		})
		wantProblem(t, h2.as(h2.admin).post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://internal.example/"}), http.StatusUnprocessableEntity, "body.url")
		want(t, h2.as(h2.admin).post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://public.example/"}), http.StatusCreated)
		if len(checked) != 2 {
			t.Fatalf("CheckURL saw %v, want both URLs", checked)
		}
		// A ValidationError from CheckURL keeps its message.
		h3 := newHarness(t, st, func(c *Config) {
			c.CheckURL = func(context.Context, string) error { return herald.Invalid("", "resolves nowhere") }
		})
		r := h3.as(h3.admin).post("/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://x.example/"})
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.url")
		if !strings.Contains(string(r.Body), "resolves nowhere") {
			t.Fatalf("CheckURL message lost: %s", r.Body)
		}
	})
}

func TestEndpoints_PatchChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{"events": []string{"a.*"}, "description": "d", "headers": map[string]string{"X-A": "1"}, "rate_limit": 3})
		path := "/api/v1/tenants/acme/endpoints/" + ep["id"].(string)

		r := admin.patch(path, map[string]any{"enabled": false})
		want(t, r, http.StatusOK)
		got := r.obj(t)
		if got["status"] != "disabled" || got["description"] != "d" || got["rate_limit"] != float64(3) ||
			got["events"].([]any)[0] != "a.*" || got["headers"].(map[string]any)["X-A"] != "1" || got["url"] != ep["url"] {
			t.Fatalf("after disabling: %s", r.Body)
		}
		if got["secret"] != nil {
			t.Fatalf("PATCH shows the secret: %s", r.Body)
		}
		r = admin.patch(path, map[string]any{"url": "https://example.net/new", "events": []string{"*"}, "headers": map[string]string{}, "rate_limit": 0})
		want(t, r, http.StatusOK)
		got = r.obj(t)
		if got["url"] != "https://example.net/new" || got["events"].([]any)[0] != "*" || len(got["headers"].(map[string]any)) != 0 ||
			got["rate_limit"] != float64(0) || got["status"] != "disabled" || got["description"] != "d" {
			t.Fatalf("after the second patch: %s", r.Body)
		}
		stored, err := st.EndpointGet(t.Context(), "acme", ep["id"].(string))
		if err != nil || stored.Secret != ep["secret"] {
			t.Fatalf("stored secret changed by PATCH: %v", err)
		}

		// A format whose scheme the secret does not suit.
		want(t, admin.put("/api/v1/formats/body-sig", `{"signature": {"scheme": "body", "header": "X-Sig"}}`), http.StatusCreated)
		other := h.endpoint(t, "acme", map[string]any{"format": "body-sig", "secret": "plain_secret_1"})
		wantProblem(t, admin.patch("/api/v1/tenants/acme/endpoints/"+other["id"].(string), map[string]any{"format": "standard-webhooks"}),
			http.StatusUnprocessableEntity, "body.format")
		// The generated whsec_ secret suits every scheme.
		want(t, admin.patch(path, map[string]any{"format": "body-sig"}), http.StatusOK)

		for body, loc := range map[string]string{
			`{"url": "ftp://x.example/"}`: "body.url",
			`{"events": []}`:              "body.events",
			`{"rate_limit": -5}`:          "body.rate_limit",
			`{"format": "nope"}`:          "body.format",
			`{"secret": "whsec_x"}`:       "body.secret",
			`{"id": "ep_other"}`:          "body.id",
		} {
			wantProblem(t, admin.patch(path, body), http.StatusUnprocessableEntity, loc)
		}
		wantProblem(t, admin.patch("/api/v1/tenants/acme/endpoints/ep_nope", `{}`), http.StatusNotFound, "")
		want(t, admin.delete(path), http.StatusNoContent)
		wantProblem(t, admin.get(path), http.StatusNotFound, "")
		wantProblem(t, admin.delete(path), http.StatusNotFound, "")
		wantProblem(t, admin.patch(path, `{}`), http.StatusNotFound, "")
	})
}

// Deleting an endpoint used to erase its delivery log: now its deliveries
// and their attempts stay readable, marked, and in the dead-letter view,
// while the endpoint is gone from every endpoint route.
func TestEndpoints_DeleteKeepsTheDeliveryLog(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		tenantKey := h.tenantWithKey(t, "acme")
		gone := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		kept := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		want(t, admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}}), http.StatusAccepted)
		failDue(t, st, 2)
		want(t, admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.updated", "data": map[string]any{}}), http.StatusAccepted)

		want(t, h.as(tenantKey).delete("/api/v1/tenants/acme/endpoints/"+gone), http.StatusNoContent)

		wantProblem(t, admin.get("/api/v1/tenants/acme/endpoints/"+gone), http.StatusNotFound, "")
		if list := admin.get("/api/v1/tenants/acme/endpoints").list(t); len(list) != 1 || list[0]["id"] != kept {
			t.Fatalf("endpoints after the delete: %v, want only %s", list, kept)
		}
		r := admin.get("/api/v1/tenants/acme/deliveries?endpoint=" + gone)
		want(t, r, http.StatusOK)
		dels := r.list(t)
		if len(dels) != 2 {
			t.Fatalf("deliveries of the deleted endpoint: %s, want 2", r.Body)
		}
		for _, d := range dels {
			if d["endpoint_deleted"] != true || d["status"] != "failed" || d["next_attempt_at"] != nil {
				t.Errorf("delivery of the deleted endpoint: %v, want failed, endpoint_deleted, nothing due", d)
			}
			r := admin.get("/api/v1/tenants/acme/deliveries/" + d["id"].(string))
			want(t, r, http.StatusOK)
			atts, _ := r.obj(t)["attempts"].([]any)
			if r.obj(t)["endpoint_deleted"] != true || float64(len(atts)) != d["attempt_count"].(float64) {
				t.Errorf("GET of a deleted endpoint's delivery: %s", r.Body)
			}
			r = admin.post("/api/v1/tenants/acme/deliveries/"+d["id"].(string)+"/retry", nil)
			wantProblem(t, r, http.StatusConflict, "")
			if !strings.Contains(string(r.Body), "was deleted") {
				t.Errorf("retry of a deleted endpoint's delivery does not say why: %s", r.Body)
			}
		}
		if waiting := dels[0]; waiting["last_error"] != "endpoint_deleted" || waiting["attempt_count"] != float64(0) {
			t.Errorf("the delivery that was waiting: %v, want no attempts and last_error endpoint_deleted", waiting)
		}
		// The dead-letter view lists them, marked; the kept endpoint's are not.
		dead := admin.get("/api/v1/tenants/acme/deliveries?status=failed").list(t)
		marked := map[any]int{}
		for _, d := range dead {
			if d["endpoint_deleted"] == true {
				marked[d["endpoint_id"]]++
			} else if d["endpoint_id"] != kept {
				t.Errorf("an unmarked failed delivery of %v", d["endpoint_id"])
			}
		}
		if marked[gone] != 2 || len(marked) != 1 {
			t.Errorf("dead-letter view marks %v, want 2 of %s", marked, gone)
		}
		// Nor is it sent anything new, tested or replayed.
		r = admin.post("/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})
		if want(t, r, http.StatusAccepted); r.obj(t)["deliveries"] != float64(1) {
			t.Errorf("an event after the delete: %s, want 1 delivery", r.Body)
		}
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints/"+gone+"/replay", map[string]any{"since": "2020-01-01T00:00:00Z"}), http.StatusNotFound, "")
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints/"+gone+"/rotate-secret", nil), http.StatusNotFound, "")
	})
}

func TestEndpoints_RotateSecret(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		h := newHarness(t, st, func(c *Config) { c.Clock = clock.NewFake(now) })
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})
		epID := ep["id"].(string)
		path := "/api/v1/tenants/acme/endpoints/" + epID + "/rotate-secret"
		old := ep["secret"].(string)

		// Default grace: 24h for standard-webhooks.
		r := admin.post(path, nil)
		want(t, r, http.StatusOK)
		newSecret := r.str(t, "secret")
		if !strings.HasPrefix(newSecret, "whsec_") || newSecret == old {
			t.Fatalf("rotated secret %q, want a new whsec_ secret", newSecret)
		}
		if r.str(t, "previous_secret_expires_at") != "2026-01-03T03:04:05Z" {
			t.Fatalf("previous secret expires %v, want 24h from now", r.obj(t)["previous_secret_expires_at"])
		}
		stored, _ := st.EndpointGet(t.Context(), "acme", epID)
		if stored.Secret != newSecret || len(stored.PreviousSecrets) != 1 || stored.PreviousSecrets[0].Secret != old ||
			!stored.PreviousSecrets[0].ExpiresAt.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("stored after rotation: secret %v previous %+v", stored.Secret == newSecret, len(stored.PreviousSecrets))
		}

		// An immediate rotation, with the user's own secret: the secret it
		// replaces stops at once, the first rotation's goes on.
		r = admin.post(path, map[string]any{"grace": "0s", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
		want(t, r, http.StatusOK)
		if r.str(t, "secret") != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || r.str(t, "previous_secret_expires_at") != "2026-01-03T03:04:05Z" {
			t.Fatalf("immediate rotation: %s", r.Body)
		}
		stored, _ = st.EndpointGet(t.Context(), "acme", epID)
		if len(stored.PreviousSecrets) != 1 || stored.PreviousSecrets[0].Secret != old {
			t.Fatalf("immediate rotation: %d previous secrets stored, want the first rotation's only", len(stored.PreviousSecrets))
		}

		// Another within the first's grace: both replaced secrets sign, each
		// until its own end, and the endpoint says so without their values.
		r = admin.post(path, map[string]any{"grace": "1h30m"})
		want(t, r, http.StatusOK)
		if r.str(t, "previous_secret_expires_at") != "2026-01-03T03:04:05Z" {
			t.Fatalf("grace 1h30m: %s", r.Body)
		}
		r = admin.get("/api/v1/tenants/acme/endpoints/" + epID)
		want(t, r, http.StatusOK)
		prev, _ := r.obj(t)["previous_secrets"].([]any)
		if len(prev) != 2 || prev[0].(map[string]any)["expires_at"] != "2026-01-02T04:34:05Z" || prev[0].(map[string]any)["replaced_at"] != "2026-01-02T03:04:05Z" ||
			prev[1].(map[string]any)["expires_at"] != "2026-01-03T03:04:05Z" {
			t.Fatalf("previous_secrets after two rotations: %s", r.Body)
		}
		for _, secret := range []string{old, newSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"} {
			if strings.Contains(string(r.Body), secret) {
				t.Fatalf("GET shows a secret's value: %s", r.Body)
			}
		}
		// Five still signing: a sixth with a grace is 409, one without is not.
		for range 3 {
			want(t, admin.post(path, map[string]any{"grace": "1h"}), http.StatusOK)
		}
		wantProblem(t, admin.post(path, map[string]any{"grace": "1h"}), http.StatusConflict, "")
		want(t, admin.post(path, map[string]any{"grace": "0s"}), http.StatusOK)

		for body, loc := range map[string]string{
			`{"grace": "8d"}`:            "body.grace",
			`{"grace": "169h"}`:          "body.grace",
			`{"grace": "-1h"}`:           "body.grace",
			`{"grace": "soon"}`:          "body.grace",
			`{"grace": 5}`:               "body.grace",
			`{"secret": "not-whsec"}`:    "body.secret",
			`{"grace": "1h", "x": true}`: "body.x",
		} {
			wantProblem(t, admin.post(path, body), http.StatusUnprocessableEntity, loc)
		}
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints/ep_nope/rotate-secret", nil), http.StatusNotFound, "")

		// A scheme with room for one signature: no grace by default, and a
		// grace asked for is refused with the reason.
		want(t, admin.put("/api/v1/formats/body-sig", `{"signature": {"scheme": "body", "header": "X-Sig"}}`), http.StatusCreated)
		one := h.endpoint(t, "acme", map[string]any{"format": "body-sig"})
		onePath := "/api/v1/tenants/acme/endpoints/" + one["id"].(string) + "/rotate-secret"
		r = admin.post(onePath, map[string]any{"grace": "1h"})
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.grace")
		if !strings.Contains(string(r.Body), "one signature") {
			t.Fatalf("refusal does not explain why: %s", r.Body)
		}
		r = admin.post(onePath, nil)
		want(t, r, http.StatusOK)
		if r.obj(t)["previous_secret_expires_at"] != nil {
			t.Fatalf("rotation of a one-signature scheme kept the old secret: %s", r.Body)
		}
		want(t, admin.post(onePath, map[string]any{"grace": "0s", "secret": "my-own-secret"}), http.StatusOK)
	})
}

func TestEndpoints_TestWithoutTesterIs503(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})
		wantProblem(t, h.as(h.admin).post("/api/v1/tenants/acme/endpoints/"+ep["id"].(string)+"/test", nil), http.StatusServiceUnavailable, "")
	})
}

// failDue claims up to n due deliveries and records a final failure for
// each, as a worker would after its last attempt, and returns their ids.
func failDue(t *testing.T, st store.Store, n int) []string {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: n, PerEndpoint: n})
	if err != nil || len(claimed) != n {
		t.Fatalf("claimed %d deliveries (%v), want %d", len(claimed), err, n)
	}
	var ids []string
	for _, c := range claimed {
		_, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: c.Delivery.ID, Owner: "test", Status: store.StatusFailed, Now: now, Body: []byte(`{}`),
			Attempt: &store.Attempt{
				ID: id.NewAt(id.Attempt, now), DeliveryID: c.Delivery.ID, Number: 1, StartedAt: now,
				DurationMS: 12, ResponseCode: 500, ResponseBody: "boom",
			},
		})
		if err != nil {
			t.Fatalf("record failed attempt: %v", err)
		}
		ids = append(ids, c.Delivery.ID)
	}
	return ids
}

// sendingTester is a tiny real sender: it posts a test body to the
// endpoint's URL and reports the answer, as the delivery engine does.
type sendingTester struct{ st store.Store }

func (s *sendingTester) TestWith(ctx context.Context, tenantID, endpointID string, _ *engine.TestParams) (*engine.TestResult, error) {
	ep, err := s.st.EndpointGet(ctx, tenantID, endpointID)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, strings.NewReader(`{"type":"webhook.test"}`))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &engine.TestResult{DeliveryID: id.NewAt(id.Delivery, start), Status: store.StatusFailed}
	resp, err := http.DefaultClient.Do(req)
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		res.Error = err.Error()
		return res, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	res.ResponseCode, res.ResponseBody = resp.StatusCode, string(body)
	if resp.StatusCode < 300 {
		res.Status = store.StatusDelivered
	}
	return res, nil
}

func TestEndpoints_TestSendsNow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		var got atomic.Int32
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got.Add(1) == 1 {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "receiver broke")
		}))
		defer receiver.Close()
		h := newHarness(t, st, func(c *Config) {
			c.AllowPrivateDestinations = true
			c.Tester = &sendingTester{st: st}
		})
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{"url": receiver.URL + "/hook"})
		path := "/api/v1/tenants/acme/endpoints/" + ep["id"].(string) + "/test"

		r := h.as(h.admin).post(path, nil)
		want(t, r, http.StatusOK)
		if res := r.obj(t); res["status"] != "delivered" || res["response_code"] != float64(204) || !strings.HasPrefix(res["delivery_id"].(string), "dlv_") {
			t.Fatalf("first test send: %s, want delivered with 204", r.Body)
		}
		r = h.as(h.admin).post(path, nil)
		want(t, r, http.StatusOK)
		if res := r.obj(t); res["status"] != "failed" || res["response_code"] != float64(500) || res["response_body"] != "receiver broke" {
			t.Fatalf("second test send: %s, want failed with 500 and the receiver's body", r.Body)
		}
		if got.Load() != 2 {
			t.Fatalf("receiver got %d requests, want 2", got.Load())
		}
		wantProblem(t, h.as(h.admin).post("/api/v1/tenants/acme/endpoints/ep_nope/test", nil), http.StatusNotFound, "")
	})
}

// max_in_flight is shown on every endpoint, may be set up to the server's
// cap (8 unless configured), and is refused past it naming the field.
func TestEndpoints_MaxInFlight(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st, func(c *Config) { c.MaxInFlight = 5 })
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		r := admin.post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "max_in_flight": 3}`)
		want(t, r, http.StatusCreated)
		if !strings.Contains(string(r.Body), `"max_in_flight":3`) {
			t.Fatalf("created endpoint lacks max_in_flight 3: %s", r.Body)
		}
		id := r.str(t, "id")
		wantProblem(t, admin.post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "max_in_flight": 6}`), http.StatusUnprocessableEntity, "body.max_in_flight")
		wantProblem(t, admin.patch("/api/v1/tenants/acme/endpoints/"+id, `{"max_in_flight": -1}`), http.StatusUnprocessableEntity, "body.max_in_flight")
		r = admin.patch("/api/v1/tenants/acme/endpoints/"+id, `{"max_in_flight": 0}`)
		want(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), `"max_in_flight":0`) {
			t.Fatalf("patched endpoint lacks max_in_flight 0: %s", r.Body)
		}
	})
}

// A tenant past --max-endpoints-per-tenant gets 409 problem details saying
// so, its own key and the admin's alike, and no endpoint is stored.
func TestEndpoints_CapPerTenant(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st, func(c *Config) { c.MaxEndpointsPerTenant = 2 })
		key := h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{})
		h.endpoint(t, "acme", map[string]any{"enabled": false})
		for _, k := range []string{h.admin, key} {
			r := h.as(k).post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/3"}`)
			wantProblem(t, r, http.StatusConflict, "")
			if d := r.str(t, "detail"); !strings.Contains(d, "acme has 2 endpoints") || !strings.Contains(d, "--max-endpoints-per-tenant") {
				t.Errorf("detail %q, want it to name the tenant, the cap and the flag", d)
			}
		}
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/endpoints").list(t)); n != 2 {
			t.Errorf("acme has %d endpoints, want 2", n)
		}
	})
}

// busyTester refuses every test send as the engine does past a cap.
type busyTester struct{}

func (busyTester) TestWith(context.Context, string, string, *engine.TestParams) (*engine.TestResult, error) {
	return nil, fmt.Errorf("test send to ep_1: %w", herald.Errorf(herald.ErrBusy,
		"endpoint ep_1 has 2 attempts in flight, its cap (max_in_flight, or --per-endpoint): no room for a test send within 2s; try again in a moment"))
}

// A test send refused for an endpoint's cap is 429 problem details saying
// which cap, with Retry-After.
func TestEndpoints_TestSendPastTheCapIs429(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	h := newHarness(t, st, func(c *Config) { c.Tester = busyTester{} })
	h.tenantWithKey(t, "acme")
	ep := h.endpoint(t, "acme", map[string]any{})
	r := h.as(h.admin).post("/api/v1/tenants/acme/endpoints/"+ep["id"].(string)+"/test", nil)
	wantProblem(t, r, http.StatusTooManyRequests, "")
	if d := r.str(t, "detail"); !strings.Contains(d, "ep_1 has 2 attempts in flight") {
		t.Errorf("detail %q, want the cap named", d)
	}
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
}
