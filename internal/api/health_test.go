package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		for _, path := range []string{"/healthz", "/readyz"} {
			r := h.do(req{method: http.MethodGet, path: path})
			want(t, r, http.StatusOK)
			if r.str(t, "status") != "ok" {
				t.Fatalf("%s answered %s", path, r.Body)
			}
		}

		down := newHarness(t, st, func(c *Config) {
			c.Ready = func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") }
		})
		r := down.do(req{method: http.MethodGet, path: "/readyz"})
		wantProblem(t, r, http.StatusServiceUnavailable, "")
		if strings.Contains(string(r.Body), "10.0.0.5") {
			t.Fatalf("readyz shows the error's detail: %s", r.Body)
		}
		want(t, down.do(req{method: http.MethodGet, path: "/healthz"}), http.StatusOK)
	})
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		wantProblem(t, h.as(h.admin).get("/api/v1/nothing-here"), http.StatusNotFound, "")
		r := h.do(req{method: http.MethodPut, path: "/api/v1/tenants", key: h.admin, body: `{}`})
		wantProblem(t, r, http.StatusMethodNotAllowed, "")
		if !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Fatalf("405 without Allow: %v", r.Header)
		}
	})
}

// TestOpenAPI_DescribesEveryRoute checks the document against the mux:
// each documented operation is routed, and each route is documented.
func TestOpenAPI_DescribesEveryRoute(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		r := h.do(req{method: http.MethodGet, path: "/api/v1/openapi.json"})
		want(t, r, http.StatusOK)
		var doc struct {
			OpenAPI string                                `json:"openapi"`
			Paths   map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("openapi.json: %v", err)
		}
		if doc.OpenAPI != "3.1.0" {
			t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
		}
		b, err := h.srv.OpenAPI()
		if err != nil || string(b) != string(r.Body) {
			t.Fatalf("OpenAPI() differs from the served document (%v)", err)
		}

		param := regexp.MustCompile(`\{[^}]+\}`)
		var documented []string
		for path, ops := range doc.Paths {
			for method := range ops {
				method = strings.ToUpper(method)
				documented = append(documented, method+" "+path)
				concrete := param.ReplaceAllString(path, "x")
				hr := httptest.NewRequest(method, concrete, nil)
				if _, pattern := h.srv.mux.Handler(hr); pattern != method+" "+path {
					t.Errorf("%s %s is documented but routed to %q", method, path, pattern)
					continue
				}
				// And the request itself reaches a handler: whatever it
				// answers, it is not the mux's 404 or 405.
				res := h.do(req{method: method, path: concrete, key: h.admin})
				if res.Code == http.StatusMethodNotAllowed || strings.Contains(string(res.Body), "no route for") {
					t.Errorf("%s %s: %d %s", method, concrete, res.Code, res.Body)
				}
			}
		}
		registered := append([]string(nil), h.srv.patterns...)
		sort.Strings(documented)
		sort.Strings(registered)
		if strings.Join(documented, "\n") != strings.Join(registered, "\n") {
			t.Fatalf("documented operations:\n%s\n\nregistered routes:\n%s", strings.Join(documented, "\n"), strings.Join(registered, "\n"))
		}
		for _, must := range []string{
			"POST /api/v1/tenants", "GET /api/v1/tenants/{tenant}", "POST /api/v1/tenants/{tenant}/keys",
			"PUT /api/v1/formats/{name}", "DELETE /api/v1/formats/{name}", "PUT /api/v1/event-types/{name}",
			"POST /api/v1/tenants/{tenant}/endpoints/{endpoint}/rotate-secret", "POST /api/v1/tenants/{tenant}/endpoints/{endpoint}/test",
			"POST /api/v1/tenants/{tenant}/endpoints/{endpoint}/replay", "GET /api/v1/tenants/{tenant}/events/{event}/deliveries",
			"POST /api/v1/tenants/{tenant}/deliveries/{delivery}/retry", "GET /api/v1/tenants/{tenant}/replays/{replay}",
			"GET /api/v1/tenants/{tenant}/replays", "GET /api/v1/tenants/{tenant}/endpoints/{endpoint}/replays", "GET /healthz", "GET /readyz", "GET /api/v1/openapi.json",
		} {
			if sort.SearchStrings(registered, must) == len(registered) || registered[sort.SearchStrings(registered, must)] != must {
				t.Errorf("route %s is missing", must)
			}
		}
	})
}
