package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestBattery throws hostile input at every kind of route. Each case must
// get its status as problem details, and nothing may be a 5xx.
func TestBattery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		acmeKey := h.tenantWithKey(t, "acme")
		h.tenantWithKey(t, "globex")
		globexEP := h.endpoint(t, "globex", map[string]any{})["id"].(string)
		acmeEP := h.endpoint(t, "acme", map[string]any{})["id"].(string)

		const (
			tenants   = "/api/v1/tenants"
			endpoints = "/api/v1/tenants/acme/endpoints"
			events    = "/api/v1/tenants/acme/events"
		)
		deep := func(n int, open, close string) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
		twoMiB := `{"id": "big", "name": "` + strings.Repeat("a", 2<<20) + `"}`

		type tc struct {
			name   string
			r      req
			code   int    // 0: any 4xx
			loc    string // a field error expected at this location
			accept []int  // other acceptable statuses
		}
		cases := []tc{
			// Wrong types.
			{name: "id array", r: req{method: "POST", path: tenants, body: `{"id": ["a"]}`}, code: 422, loc: "body.id"},
			{name: "url object", r: req{method: "POST", path: endpoints, body: `{"url": {}}`}, code: 422, loc: "body.url"},
			{name: "events numbers", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "events": [1]}`}, code: 422, loc: "body.events[0]"},
			{name: "enabled number", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "enabled": 1}`}, code: 422, loc: "body.enabled"},
			{name: "header value number", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "headers": {"X-A": 1}}`}, code: 422, loc: "body.headers.X-A"},
			{name: "type number", r: req{method: "POST", path: events, body: `{"type": 5, "data": {}}`}, code: 422, loc: "body.type"},
			{name: "data number", r: req{method: "POST", path: events, body: `{"type": "a", "data": 5}`}, code: 422, loc: "body.data"},
			{name: "since number", r: req{method: "POST", path: endpoints + "/" + acmeEP + "/replay", body: `{"since": 5}`}, code: 422, loc: "body.since"},
			{name: "body array", r: req{method: "POST", path: tenants, body: `[{"id": "a"}]`}, code: 422},
			{name: "body null", r: req{method: "POST", path: tenants, body: `null`}, code: 422, accept: []int{400}},
			{name: "body string", r: req{method: "POST", path: tenants, body: `"acme"`}, code: 422},
			{name: "empty body", r: req{method: "POST", path: tenants, body: ``}, code: 400, accept: []int{422}},

			// Huge numbers.
			{name: "rate_limit 1e400", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "rate_limit": 1e400}`}, code: 422, loc: "body.rate_limit"},
			{name: "rate_limit 20 digits", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "rate_limit": 99999999999999999999}`}, code: 422, loc: "body.rate_limit"},
			{name: "data 1e400", r: req{method: "POST", path: events, body: `{"type": "a", "data": {"n": 1e400}}`}, code: 422, loc: "body.data.n"},
			{name: "data -1e400", r: req{method: "POST", path: events, body: `{"type": "a", "data": {"n": -1e400}}`}, code: 422, loc: "body.data.n"},
			{name: "data 1e-400", r: req{method: "POST", path: events, body: `{"type": "a", "data": {"n": 1e-400}}`}, code: 202},
			{name: "limit huge", r: req{method: "GET", path: tenants + "?limit=1e400"}, code: 422, loc: "query.limit"},

			// Nesting.
			{name: "data 300 deep", r: req{method: "POST", path: events, body: `{"type": "a", "data": {"x": ` + deep(300, "[", "]") + `}}`}, code: 422},
			{name: "data 200000 deep", r: req{method: "POST", path: events, body: `{"type": "a", "data": {"x": ` + deep(200000, "[", "]") + `}}`}, code: 400, accept: []int{422}},
			{name: "metadata 200000 deep", r: req{method: "POST", path: tenants, body: `{"id": "deep", "metadata": {"x": ` + deep(200000, `{"a":`, "}") + `}}`}, code: 400, accept: []int{413, 422}},
			{name: "schema 200000 deep", r: req{method: "PUT", path: "/api/v1/event-types/deep", body: `{"schema": ` + deep(100000, `{"items":`, "}") + `}`}, code: 400, accept: []int{413, 422}},

			// Size and media type.
			{name: "2 MiB", r: req{method: "POST", path: tenants, body: twoMiB}, code: 413},
			{name: "text/plain", r: req{method: "POST", path: tenants, body: `{"id": "x"}`, header: map[string]string{"Content-Type": "text/plain"}}, code: 415},
			{name: "form", r: req{method: "POST", path: tenants, body: `id=x`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, code: 415},
			{name: "bad media type", r: req{method: "PUT", path: "/api/v1/formats/x", body: `{}`, header: map[string]string{"Content-Type": "application/"}}, code: 415},
			{name: "xml on patch", r: req{method: "PATCH", path: tenants + "/acme", body: `<x/>`, header: map[string]string{"Content-Type": "application/xml"}}, code: 415},

			// Malformed JSON and query.
			{name: "truncated", r: req{method: "POST", path: tenants, body: `{"id":`}, code: 400},
			{name: "single quotes", r: req{method: "POST", path: tenants, body: `{'id': 'x'}`}, code: 400},
			{name: "trailing garbage", r: req{method: "POST", path: tenants, body: `{"id": "x"} {}`}, code: 400},
			{name: "bad escape in query", r: req{method: "GET", path: tenants + "?cursor=%zz"}, code: 400},
			{name: "NUL in query", r: req{method: "GET", path: events + "?type=a%00b"}, code: 400},
			{name: "invalid UTF-8 in query", r: req{method: "GET", path: "/api/v1/tenants/acme/deliveries?event=%ff"}, code: 400},

			// Unknown or invalid fields.
			{name: "unknown tenant field", r: req{method: "POST", path: tenants, body: `{"id": "x", "admin": true}`}, code: 422, loc: "body.admin"},
			{name: "unknown endpoint field", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "id": "ep_mine"}`}, code: 422, loc: "body.id"},
			{name: "NUL in name", r: req{method: "POST", path: tenants, body: `{"id": "nul", "name": "a\u0000b"}`}, code: 422, loc: "body.name"},
			{name: "NUL in description", r: req{method: "POST", path: endpoints, body: `{"url": "https://example.com/", "description": "\u0000"}`}, code: 422, loc: "body.description"},
			{name: "NUL in event type description", r: req{method: "PUT", path: "/api/v1/event-types/x", body: `{"description": "\u0000"}`}, code: 422, loc: "body.description"},
			{name: "bad idempotency key", r: req{method: "POST", path: tenants, body: `{"id": "idem"}`, header: map[string]string{"Idempotency-Key": "a\x01b"}}, code: 422, loc: "header.Idempotency-Key"},

			// Paths that can never name anything.
			{name: "NUL in tenant", r: req{method: "GET", path: "/api/v1/tenants/acme%00"}, code: 404},
			{name: "invalid UTF-8 in event id", r: req{method: "GET", path: events + "/%ff%fe"}, code: 404},
			{name: "long tenant", r: req{method: "GET", path: "/api/v1/tenants/" + strings.Repeat("t", 5000)}, code: 404},
			{name: "long endpoint id", r: req{method: "GET", path: endpoints + "/" + strings.Repeat("e", 5000)}, code: 404},

			// Scope.
			{name: "cross-tenant endpoint", r: req{method: "GET", path: "/api/v1/tenants/globex/endpoints/" + globexEP, key: acmeKey}, code: 404},
			{name: "cross-tenant by own path", r: req{method: "GET", path: endpoints + "/" + globexEP, key: acmeKey}, code: 404},
			{name: "cross-tenant patch", r: req{method: "PATCH", path: "/api/v1/tenants/globex/endpoints/" + globexEP, key: acmeKey, body: `{"url": "https://evil.example/"}`}, code: 404},
			{name: "tenant key creates key", r: req{method: "POST", path: "/api/v1/tenants/acme/keys", key: acmeKey, body: `{"name": "x"}`}, code: 403},
			{name: "tenant key creates tenant", r: req{method: "POST", path: tenants, key: acmeKey, body: `{"id": "x"}`}, code: 403},
			{name: "no key", r: req{method: "GET", path: endpoints, key: "-"}, code: 401},

			// Destinations.
			{name: "ftp", r: req{method: "POST", path: endpoints, body: `{"url": "ftp://example.com/"}`}, code: 422, loc: "body.url"},
			{name: "user info", r: req{method: "POST", path: endpoints, body: `{"url": "https://user:pass@example.com/"}`}, code: 422, loc: "body.url"},
			{name: "file", r: req{method: "POST", path: endpoints, body: `{"url": "file:///etc/passwd"}`}, code: 422, loc: "body.url"},
		}
		for _, u := range []string{
			"http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "http://100.64.0.1/",
			"http://224.0.0.1/", "http://0.0.0.0/", "http://localhost/",
		} {
			cases = append(cases, tc{name: "internal " + u, r: req{method: "POST", path: endpoints, body: `{"url": "` + u + `"}`}, code: 422, loc: "body.url"})
		}

		for _, c := range cases {
			switch c.r.key {
			case "":
				c.r.key = h.admin
			case "-":
				c.r.key = ""
			}
			r := h.do(c.r)
			ok := r.Code == c.code
			for _, a := range c.accept {
				ok = ok || r.Code == a
			}
			if !ok {
				t.Errorf("%s: got %d, want %d: %.300s", c.name, r.Code, c.code, r.Body)
				continue
			}
			switch {
			case r.Code < 400:
			case r.Code == c.code:
				wantProblem(t, r, r.Code, c.loc)
			default:
				checkProblem(t, r)
			}
		}
		if strings.Contains(h.logs.String(), "level=ERROR") {
			t.Fatalf("hostile input was logged as a server error:\n%s", h.logs.String())
		}
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st, func(c *Config) { c.MaxBodyBytes = 100 })
		body := `{"id": "acme", "name": "` + strings.Repeat("a", 100) + `"}`
		wantProblem(t, h.as(h.admin).post("/api/v1/tenants", body), http.StatusRequestEntityTooLarge, "")

		// A body of unknown length is cut off at the limit too.
		hr := httptest.NewRequest(http.MethodPost, "/api/v1/tenants", io.NopCloser(bytes.NewReader([]byte(body))))
		hr.Header.Set("Authorization", "Bearer "+h.admin)
		hr.Header.Set("Content-Type", "application/json")
		if hr.ContentLength != -1 {
			t.Fatalf("request has content length %d, want unknown", hr.ContentLength)
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, hr)
		wantProblem(t, &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}, http.StatusRequestEntityTooLarge, "")

		// Exactly at the limit is fine.
		exact := `{"id": "acme", "name": "` + strings.Repeat("a", 100-len(`{"id": "acme", "name": ""}`)) + `"}`
		if len(exact) != 100 {
			t.Fatalf("test body is %d bytes", len(exact))
		}
		want(t, h.as(h.admin).post("/api/v1/tenants", exact), http.StatusCreated)
	})
}
