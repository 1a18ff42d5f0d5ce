package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// harness is a real Server over a real store, driven through its handler.
type harness struct {
	t     testing.TB
	st    store.Store
	srv   *Server
	admin string // an admin key
	logs  *syncBuffer
}

// syncBuffer collects the server's log, so tests can check what it holds.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, st store.Store, configure ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, st: st, admin: apikey.New(), logs: &syncBuffer{}}
	ctx := context.Background()
	if _, err := st.KeyCreate(ctx, &store.Key{ID: id.NewAt(id.Key, time.Now()), Name: "admin", Hash: apikey.Hash(h.admin), CreatedAt: time.Now()}); err != nil {
		t.Fatalf("create admin key: %v", err)
	}
	cfg := &Config{
		Store:   st,
		Formats: catalog.New(st, "", nil),
		Logger:  slog.New(slog.NewTextHandler(h.logs, nil)),
	}
	for _, c := range configure {
		c(cfg)
	}
	h.srv = New(cfg)
	// A sweep of expired idempotency records ends before the store closes
	// (cleanups run last first: the store's was registered before).
	t.Cleanup(h.srv.idempotencySweeps.Wait)
	// So do the writes of keys' last uses.
	t.Cleanup(h.srv.keys.Wait)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", h.logs.String())
		}
	})
	return h
}

// response is what the handler answered.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return http.StatusText(r.Code) + " " + string(r.Body)
}

// obj decodes the body as a JSON object.
func (r *response) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.Code, err, r.Body)
	}
	return m
}

// str returns a top-level string member of the body.
func (r *response) str(t testing.TB, key string) string {
	t.Helper()
	s, _ := r.obj(t)[key].(string)
	return s
}

// list returns the data array of a list answer.
func (r *response) list(t testing.TB) []map[string]any {
	t.Helper()
	var p struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("answer %d is not a list: %v: %s", r.Code, err, r.Body)
	}
	return p.Data
}

// req is one request to make.
type req struct {
	method, path, key string
	body              any // string and []byte are sent as they are; anything else as JSON
	header            map[string]string
}

func (h *harness) do(r req) *response {
	h.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal request body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, hr)
	return &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// as makes requests with one key.
func (h *harness) as(key string) *client { return &client{h: h, key: key} }

type client struct {
	h   *harness
	key string
}

func (c *client) get(path string) *response {
	c.h.t.Helper()
	return c.h.do(req{method: http.MethodGet, path: path, key: c.key})
}

func (c *client) post(path string, body any) *response {
	c.h.t.Helper()
	return c.h.do(req{method: http.MethodPost, path: path, key: c.key, body: body})
}

func (c *client) put(path string, body any) *response {
	c.h.t.Helper()
	return c.h.do(req{method: http.MethodPut, path: path, key: c.key, body: body})
}

func (c *client) patch(path string, body any) *response {
	c.h.t.Helper()
	return c.h.do(req{method: http.MethodPatch, path: path, key: c.key, body: body})
}

func (c *client) delete(path string) *response {
	c.h.t.Helper()
	return c.h.do(req{method: http.MethodDelete, path: path, key: c.key})
}

// want fails unless the answer has status code.
func want(t testing.TB, r *response, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("got %d, want %d: %s", r.Code, code, r.Body)
	}
}

// wantProblem fails unless the answer is a problem with this status and,
// when loc is not "", a field error at loc.
func wantProblem(t testing.TB, r *response, code int, loc string) {
	t.Helper()
	want(t, r, code)
	checkProblem(t, r)
	if loc == "" {
		return
	}
	var p struct {
		Errors []struct{ Location, Message string }
	}
	json.Unmarshal(r.Body, &p)
	for _, e := range p.Errors {
		if e.Location == loc {
			return
		}
	}
	t.Fatalf("problem has no error at %s: %s", loc, r.Body)
}

// checkProblem fails unless r is RFC 9457 problem details.
func checkProblem(t testing.TB, r *response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json: %s", ct, r.Body)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Errors []struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, r.Body)
	}
	if p.Status != r.Code || p.Title == "" || p.Type == "" || p.Detail == "" {
		t.Fatalf("problem lacks type, title, detail or the right status (%d): %s", r.Code, r.Body)
	}
	for _, e := range p.Errors {
		if e.Message == "" {
			t.Fatalf("field error without a message: %s", r.Body)
		}
	}
}

// tenantWithKey creates a tenant and a key for it.
func (h *harness) tenantWithKey(t testing.TB, tenantID string) string {
	t.Helper()
	admin := h.as(h.admin)
	want(t, admin.post("/api/v1/tenants", map[string]any{"id": tenantID, "name": tenantID}), http.StatusCreated)
	r := admin.post("/api/v1/tenants/"+tenantID+"/keys", map[string]any{"name": "test"})
	want(t, r, http.StatusCreated)
	return r.str(t, "key")
}

// endpoint creates an endpoint and returns its answer.
func (h *harness) endpoint(t testing.TB, tenantID string, body map[string]any) map[string]any {
	t.Helper()
	if body["url"] == nil {
		body["url"] = "https://example.com/hook"
	}
	r := h.as(h.admin).post("/api/v1/tenants/"+tenantID+"/endpoints", body)
	want(t, r, http.StatusCreated)
	return r.obj(t)
}
