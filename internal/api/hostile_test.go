package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// hostileRequests is how many mutated requests each route of
// TestHostileInput_NoServerError gets on each database: bounded, so the
// test takes seconds in CI, and seeded from the clock (the seed is logged
// to replay a finding).
const hostileRequests = 100

// TestHostileInput_NoServerError sends mutated bodies and query strings to
// the ingest, endpoint, format, event-type and list handlers, on both
// databases: no answer may be a 5xx, and every 4xx is problem details.
// The fuzz targets (fuzz_test.go) search deeper with `go test -fuzz`; this
// runs every time, in CI too.
func TestHostileInput_NoServerError(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{"events": []string{"*"}})
		rng := rand.New(rand.NewPCG(seed, 0x6865726c64))
		routes := []struct {
			method, path string
			seeds        []string
		}{
			{"POST", "/api/v1/tenants/acme/events", []string{
				`{"type": "user.created", "data": {"id": "usr_1", "n": 12345678901234567890}}`,
				`{"type": "user.created", "id": "order:42", "data": {"a": [1, 2, {"b": null}]}}`,
			}},
			{"POST", "/api/v1/tenants/acme/endpoints", []string{
				`{"url": "https://example.com/hook", "events": ["user.*"], "headers": {"X-A": "b"}, "rate_limit": 5, "metadata": {"a": 1}}`,
			}},
			{"PATCH", "/api/v1/tenants/acme/endpoints/" + ep["id"].(string), []string{
				`{"url": "https://example.com/other", "enabled": false, "max_in_flight": 2}`,
			}},
			{"PUT", "/api/v1/formats/hostile", []string{
				`{"headers": {"X-Event": "{{event.type}}"}, "body": {"id": "{{event.id}}", "data": "{{event.data}}"}, "retry": {"schedule": ["1s", "5s"]}}`,
			}},
			{"PUT", "/api/v1/event-types/hostile.type", []string{
				`{"description": "d", "schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}`,
			}},
			{"POST", "/api/v1/tenants", []string{`{"id": "t-1", "name": "T", "metadata": {"k": "v"}}`}},
		}
		for _, r := range routes {
			for i := range hostileRequests {
				body := mutate(rng, []byte(r.seeds[i%len(r.seeds)]))
				hostile(t, h, r.method, r.path, body)
			}
		}
		lists := []string{
			"/api/v1/tenants/acme/events", "/api/v1/tenants/acme/deliveries", "/api/v1/tenants/acme/endpoints",
			"/api/v1/tenants", "/api/v1/event-types", "/api/v1/formats",
		}
		for _, l := range lists {
			for range hostileRequests {
				hostile(t, h, "GET", l+"?"+hostileQuery(rng), nil)
			}
		}
	})
}

// hostile sends one request as the admin and holds the answer to what a
// client may always rely on.
func hostile(t *testing.T, h *harness, method, path string, body []byte) {
	t.Helper()
	hr := httptest.NewRequest(method, path, bytes.NewReader(body))
	hr.Header.Set("Authorization", "Bearer "+h.admin)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, hr)
	r := &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	switch {
	case r.Code >= 500:
		t.Fatalf("%s %s with body %q: %d %s\nlog:\n%s", method, path, body, r.Code, r.Body, h.logs.String())
	case r.Code >= 400:
		checkProblem(t, r)
	}
}

// mutate is one of a handful of hostile edits of a valid JSON body.
func mutate(rng *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	switch rng.IntN(10) {
	case 0: // flip bytes
		for range 1 + rng.IntN(4) {
			if len(b) > 0 {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
		}
		return b
	case 1: // cut short
		return b[:rng.IntN(len(b)+1)]
	case 2: // a string value becomes invalid UTF-8, NUL or CR LF
		return bytes.Replace(b, []byte(`"`), []byte("\"\xff\x00\r\n"), 1+rng.IntN(3))
	case 3: // numbers out of every range
		return bytes.Replace(b, []byte(`1`), []byte(`-1e400`), -1)
	case 4: // deep nesting
		n := 1 + rng.IntN(3000)
		return []byte(`{"type": "a.b", "data": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	case 5: // every value of one kind replaced by another
		var v map[string]any
		if json.Unmarshal(b, &v) != nil {
			return b
		}
		kinds := []any{nil, true, -1, 1e308, "", "\u0000", []any{}, map[string]any{}, strings.Repeat("x", 70000)}
		for k := range v {
			if rng.IntN(2) == 0 {
				v[k] = kinds[rng.IntN(len(kinds))]
			}
		}
		out, _ := json.Marshal(v)
		return out
	case 6: // an unknown member
		return bytes.Replace(b, []byte(`{`), []byte(`{"surprise": 1, `), 1)
	case 7: // a duplicate member
		return bytes.Replace(b, []byte(`{`), []byte(`{"id": "a", "id": "b", `), 1)
	case 8: // not an object
		return []byte([]string{`[]`, `null`, `"x"`, `0`, ``, `{`, "\xef\xbb\xbf{}"}[rng.IntN(7)])
	}
	return b
}

// hostileQuery is a query string of list parameters with hostile values.
func hostileQuery(rng *rand.Rand) string {
	vals := []string{"", "-1", "0", "251", "1e9", "abc", "\x00", "%zz", strings.Repeat("9", 40),
		"MjAyNi0xMi0wMVQwMDowMDowMFp8eA", "LTIxMDg2NjgwMzIwMDAwMDAwMXx4", "2026-13-45T99:99:99Z", "1970-01-01T00:00:00Z"}
	keys := []string{"limit", "cursor", "since", "until", "status", "type", "event_type", "endpoint", "event", "surprise"}
	q := url.Values{}
	for range 1 + rng.IntN(3) {
		q.Add(keys[rng.IntN(len(keys))], vals[rng.IntN(len(vals))])
	}
	s := q.Encode()
	if rng.IntN(5) == 0 {
		s += fmt.Sprintf("&limit=%d&limit=%d", rng.IntN(300), rng.IntN(300)) // a repeated parameter
	}
	return s
}
