package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/internal/store/dbtest"
)

// fuzzServer is a real Server on a SQLite store with tenant acme and one
// endpoint, for fuzz targets.
func fuzzServer(f *testing.F) *harness {
	f.Helper()
	h := newHarness(f, dbtest.SQLite(f))
	h.tenantWithKey(f, "acme")
	h.endpoint(f, "acme", map[string]any{"events": []string{"*"}})
	return h
}

// fuzzPost sends body to path as the admin and checks what a client must
// always be able to rely on: no 5xx, and problem details for every 4xx.
func fuzzPost(t *testing.T, h *harness, path string, body []byte, contentType, idemKey, traceparent string) {
	hr := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	hr.Header.Set("Authorization", "Bearer "+h.admin)
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	if idemKey != "" {
		hr.Header.Set("Idempotency-Key", idemKey)
	}
	if traceparent != "" {
		hr.Header.Set("traceparent", traceparent)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, hr)
	r := &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	switch {
	case r.Code >= 500:
		t.Fatalf("body %q: %d %s\nlog:\n%s", body, r.Code, r.Body, h.logs.String())
	case r.Code >= 400:
		checkProblem(t, r)
	default:
		if !json.Valid(r.Body) {
			t.Fatalf("body %q: %d answer is not JSON: %s", body, r.Code, r.Body)
		}
	}
}

func FuzzEventIngest(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{
		`{"type": "user.created", "data": {"id": "usr_1", "n": 12345678901234567890, "f": 1.50}}`,
		`{"type": "user.created", "data": {}, "id": "order:42"}`,
		`{"type": "user.created", "data": {"k": 1, "k": 2}}`,
		`{"type": "user.created", "data": {"s": "\ud800"}}`,
		"{\"type\": \"a\", \"data\": {\"s\": \"\xff\"}}",
		`{"type": "a", "data": {"n": 1e400}}`,
		`{"type": "a", "data": [[[[[[[[[[]]]]]]]]]]}`,
		`{"type": "a..b", "data": null, "id": "x.y"}`,
		`{"type": "typed", "data": {"amount": 0}}`,
		`{"type": "typed", "data": {"amount": "x"}}`,
		`{"type":`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed), "application/json", "", "")
	}
	f.Add([]byte(`{"type": "a", "data": {}}`), "text/plain", "key-1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add([]byte(`{"type": "a", "data": {}}`), "application/json; charset=utf-8", "\x00", "00-zz")
	if r := h.as(h.admin).put("/api/v1/event-types/typed", `{"schema": `+paymentSchema+`}`); r.Code != http.StatusCreated {
		f.Fatalf("put event type: %s", r)
	}

	f.Fuzz(func(t *testing.T, body []byte, contentType, idemKey, traceparent string) {
		h.t = t
		fuzzPost(t, h, "/api/v1/tenants/acme/events", body, contentType, idemKey, traceparent)
	})
}

func FuzzEndpointCreate(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{
		`{"url": "https://example.com/hook"}`,
		`{"url": "https://example.com/hook", "events": ["user.*", "*"], "headers": {"X-A": "b"}, "rate_limit": 5, "metadata": {"a": [1, 2.5]}}`,
		`{"url": "http://127.0.0.1/", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`,
		`{"url": "http://[::ffff:10.0.0.1]:99999/#x", "format": "nope"}`,
		`{"url": "https://u:p@example.com/", "events": [], "enabled": "yes"}`,
		`{"url": "https://example.com/", "headers": {"Content-Type": "x", "Bad Name": "\r\n"}}`,
		`{"url": "https://example.com/", "rate_limit": 1e400, "description": "\u0000"}`,
		`{"url": "https://0x7f.1/"}`,
		`{"url":`,
		`null`,
	} {
		f.Add([]byte(seed), "application/json", "")
	}
	f.Add([]byte(`{"url": "https://example.com/hook"}`), "application/merge-patch+json", "idem-1")

	f.Fuzz(func(t *testing.T, body []byte, contentType, idemKey string) {
		h.t = t
		fuzzPost(t, h, "/api/v1/tenants/acme/endpoints", body, contentType, idemKey, "")
	})
}

// A body sent to a route that takes none, and a query string of any
// parameters, are never a 5xx: each is answered as the route would, or
// refused naming what it does not take.
func FuzzUnknownInput(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []struct{ body, query string }{
		{`{"force": true}`, ""},
		{`{}`, "since=2030-01-02T03:04:05Z&until=2030-01-01T00:00:00Z"},
		{` null `, "event_type=user.created&event_type=order.paid"},
		{`{"a": {"b": [1, {"c": 2}]}, "a": 1}`, "bogus"},
		{`[{"x": 1}]`, "limit=5&cursor=&status=pending"},
		{`{"x": `, "=&=="},
		{`"str"`, "since=yesterday"},
		{"{\"\xff\": 1}", "event_type=a..b"},
	} {
		f.Add([]byte(seed.body), seed.query)
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		h.t = t
		for _, r := range []struct {
			method, path string
			body         []byte
		}{
			{http.MethodPost, "/api/v1/tenants/acme/deliveries/dlv_nope/retry", body},
			{http.MethodGet, "/api/v1/tenants/acme/deliveries", nil},
		} {
			hr := httptest.NewRequest(r.method, r.path, bytes.NewReader(r.body))
			hr.URL.RawQuery = query
			hr.Header.Set("Authorization", "Bearer "+h.admin)
			hr.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.srv.Handler().ServeHTTP(rec, hr)
			if rec.Code >= 500 {
				t.Fatalf("%s %q ?%q: %d %s", r.method, r.body, query, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				checkProblem(t, &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
			}
		}
	})
}
