package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// countingBody is a request body that counts what the server reads of it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// A request without a valid key, or with one that may not reach the route,
// is answered before a byte of its body is read, and its connection is
// closed rather than drained, however large a body it announces.
func TestBody_NotReadBeforeTheKeyIsChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	acmeKey := h.tenantWithKey(t, "acme")
	h.tenantWithKey(t, "globex")
	body := []byte(`{"type": "user.created", "data": {"pad": "` + strings.Repeat("a", 900<<10) + `"}}`)
	for _, tc := range []struct {
		name, path, key string
		code            int
	}{
		{"no key", "/api/v1/tenants/acme/events", "", http.StatusUnauthorized},
		{"wrong key", "/api/v1/tenants/acme/events", "hk_wrong", http.StatusUnauthorized},
		{"another tenant's key", "/api/v1/tenants/globex/events", acmeKey, http.StatusNotFound},
		{"a tenant key on an admin route", "/api/v1/tenants", acmeKey, http.StatusForbidden},
		{"no such tenant", "/api/v1/tenants/nobody/events", h.admin, http.StatusNotFound},
	} {
		for _, declared := range []int64{int64(len(body)), -1, 100 << 20} {
			b := &countingBody{r: bytes.NewReader(body)}
			hr := httptest.NewRequest(http.MethodPost, tc.path, b)
			hr.ContentLength = declared
			hr.Header.Set("Content-Type", "application/json")
			if tc.key != "" {
				hr.Header.Set("Authorization", "Bearer "+tc.key)
			}
			rec := httptest.NewRecorder()
			h.srv.Handler().ServeHTTP(rec, hr)
			r := &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			wantProblem(t, r, tc.code, "")
			if n := b.read.Load(); n != 0 {
				t.Errorf("%s, content length %d: the server read %d bytes of the body before answering %d", tc.name, declared, n, r.Code)
			}
			if c := r.Header.Get("Connection"); c != "close" {
				t.Errorf("%s, content length %d: Connection %q, want close: an unread body is not drained", tc.name, declared, c)
			}
		}
	}
	// With a valid key the body is read, and the connection kept.
	b := &countingBody{r: bytes.NewReader(body)}
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/tenants/acme/events", b)
	hr.Header.Set("Authorization", "Bearer "+acmeKey)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, hr)
	if rec.Code != http.StatusAccepted || b.read.Load() != int64(len(body)) || rec.Header().Get("Connection") != "" {
		t.Fatalf("valid key: %d, %d of %d bytes read, Connection %q; want 202, all read, no Connection header",
			rec.Code, b.read.Load(), len(body), rec.Header().Get("Connection"))
	}
}

// rawRequest opens a connection to srv and sends a request's head and the
// first part of its body; the rest is the caller's to send, or not.
func rawRequest(t *testing.T, srv *httptest.Server, method, path, key string, contentLength int, first string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	// A guard, not a measure: a server waiting for the body would never
	// answer, and the test would hang until its own timeout.
	conn.SetDeadline(time.Now().Add(time.Minute))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, contentLength)
	if key != "" {
		head += "Authorization: Bearer " + key + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+first); err != nil {
		t.Fatalf("write request: %v", err)
	}
	return conn
}

// readResponse reads one answer from conn.
func readResponse(t *testing.T, conn net.Conn, br *bufio.Reader) *response {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return wireResponse(res, b)
}

// wireResponse is res as the handler wrote it: net/http takes
// "Connection: close" out of the header into res.Close.
func wireResponse(res *http.Response, body []byte) *response {
	if res.Close {
		res.Header.Set("Connection", "close")
	}
	return &response{Code: res.StatusCode, Header: res.Header, Body: body}
}

// Over a real connection: a wrong key that sends its headers and a
// megabyte's Content-Length, then nothing, gets its 401 at once, and the
// server closes the connection without waiting for the body.
func TestBody_WrongKeyAnsweredWithoutTheBodyOverTheWire(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	h.tenantWithKey(t, "acme")
	srv := httptest.NewServer(h.srv.Handler())
	t.Cleanup(srv.Close)

	conn := rawRequest(t, srv, http.MethodPost, "/api/v1/tenants/acme/events", "hk_wrong", 1<<20, "")
	br := bufio.NewReader(conn)
	r := readResponse(t, conn, br)
	wantProblem(t, r, http.StatusUnauthorized, "")
	if r.Header.Get("Connection") != "close" {
		t.Errorf("401 with Connection %q, want close", r.Header.Get("Connection"))
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the 401: read %d bytes, %v; want the server to have closed the connection", n, err)
	}
}

// The bytes of bodies held at once are bounded across requests: a request
// that finds no room waits for it, briefly, then is answered 503 with
// Retry-After, its body unread; room freed in time lets it through.
func TestBody_BudgetAcrossRequests(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	for _, tc := range []struct {
		name string
		wait time.Duration
	}{
		{"full", time.Millisecond},
		{"room comes", time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, dbtest.SQLite(t), func(c *Config) {
				c.MaxBodyBytes, c.MaxBufferedBytes, c.BufferedWait = limit, limit, tc.wait
			})
			srv := httptest.NewServer(h.srv.Handler())
			t.Cleanup(srv.Close)
			budget := h.srv.bodies

			h.tenantWithKey(t, "acme")
			// A holds the whole budget: it has announced the largest body
			// allowed and sent only part of it.
			bodyA := `{"type": "a", "data": {"pad": "` + strings.Repeat("a", limit-len(`{"type": "a", "data": {"pad": ""}}`)) + `"}}`
			connA := rawRequest(t, srv, http.MethodPost, "/api/v1/tenants/acme/events", h.admin, len(bodyA), bodyA[:100])
			waitUntil(t, "A has reserved its body", func() bool { return budget.held.Load() == limit })

			post := func(id string) *response {
				res, err := srv.Client().Do(mustRequest(t, srv.URL+"/api/v1/tenants", h.admin, `{"id": "`+id+`"}`))
				if err != nil {
					t.Errorf("post %s: %v", id, err)
					return nil
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return wireResponse(res, b)
			}
			var answerB chan *response
			if tc.wait < time.Minute {
				r := post("b")
				wantProblem(t, r, http.StatusServiceUnavailable, "")
				if r.Header.Get("Retry-After") != "1" || r.Header.Get("Connection") != "close" {
					t.Errorf("503 with Retry-After %q and Connection %q, want 1 and close", r.Header.Get("Retry-After"), r.Header.Get("Connection"))
				}
			} else {
				answerB = make(chan *response, 1)
				go func() { answerB <- post("b") }()
				waitUntil(t, "B waits for room", func() bool { return budget.waiting.Load() == 1 })
			}

			// A sends the rest and is answered; its room goes back.
			if _, err := io.WriteString(connA, bodyA[100:]); err != nil {
				t.Fatalf("write the rest of A: %v", err)
			}
			want(t, readResponse(t, connA, bufio.NewReader(connA)), http.StatusAccepted)
			if answerB != nil {
				want(t, <-answerB, http.StatusCreated)
			}
			want(t, post("c"), http.StatusCreated)
			if n := budget.held.Load(); n != 0 {
				t.Errorf("after every answer the budget holds %d bytes, want 0", n)
			}
		})
	}
}

// waitUntil polls cond until it holds. The minute is a guard against a
// test that would hang, not a measure of anything.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting until %s", what)
		}
	}
}

func mustRequest(t *testing.T, url, key, body string) *http.Request {
	t.Helper()
	hr, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+key)
	hr.Header.Set("Content-Type", "application/json")
	return hr
}

// A body of undeclared length reserves the limit while it is read, and
// gives back what it did not use as soon as it has been read.
func TestBody_UndeclaredLengthGivesBackWhatItDidNotUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t), func(c *Config) { c.MaxBodyBytes, c.MaxBufferedBytes = 1000, 1500 })
	budget := h.srv.bodies
	var during int64
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"id": "chunked", `)
		for budget.held.Load() == 0 {
			time.Sleep(time.Millisecond) // until the server has reserved
		}
		during = budget.held.Load()
		io.WriteString(pw, `"name": "x"}`)
		pw.Close()
	}()
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/tenants", pr)
	hr.ContentLength = -1
	hr.Header.Set("Authorization", "Bearer "+h.admin)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, hr)
	if rec.Code != http.StatusCreated || during != 1000 || budget.held.Load() != 0 {
		t.Fatalf("chunked body: %d, %d bytes reserved while reading, %d after; want 201, the limit of 1000, then 0",
			rec.Code, during, budget.held.Load())
	}
}

// JSON text must be UTF-8. A string that is not, anywhere in a body, is
// refused naming its field, on both databases; before, SQLite stored
// metadata with it and answered invalid JSON, PostgreSQL refused it without
// a field, and other fields got U+FFFD in silence.
func TestBody_InvalidUTF8IsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		for _, tc := range []struct {
			method, path, body, loc string
		}{
			{"POST", "/api/v1/tenants", "{\"id\": \"u1\", \"metadata\": {\"plan\": \"pro\xff\"}}", "body.metadata.plan"},
			{"POST", "/api/v1/tenants", "{\"id\": \"u2\", \"metadata\": {\"a\": {\"b\": [1, \"ok\", \"\xc3\"]}}}", "body.metadata.a.b[2]"},
			{"POST", "/api/v1/tenants", "{\"id\": \"u3\", \"metadata\": {\"k\xfe\": 1}}", "body.metadata"},
			{"POST", "/api/v1/tenants", "{\"id\": \"u4\", \"name\": \"\xed\xa0\x80\"}", "body.name"},
			{"PATCH", "/api/v1/tenants/acme", "{\"metadata\": {\"plan\": \"\xff\"}}", "body.metadata.plan"},
			{"POST", "/api/v1/tenants/acme/endpoints", "{\"url\": \"https://example.com/\", \"metadata\": {\"x\": \"\xff\"}}", "body.metadata.x"},
			{"POST", "/api/v1/tenants/acme/endpoints", "{\"url\": \"https://example.com/\", \"events\": [\"*\", \"a\xff\"]}", "body.events[1]"},
			{"PATCH", "/api/v1/tenants/acme/endpoints/" + ep, "{\"metadata\": {\"x\": [\"\xff\"]}}", "body.metadata.x[0]"},
			{"POST", "/api/v1/tenants/acme/events", "{\"type\": \"a\", \"data\": {\"s\": \"\xff\"}}", "body.data.s"},
			{"PUT", "/api/v1/event-types/a", "{\"description\": \"\xff\"}", "body.description"},
		} {
			r := h.do(req{method: tc.method, path: tc.path, key: h.admin, body: tc.body})
			if r.Code != http.StatusUnprocessableEntity {
				t.Errorf("%s %s %q: got %d, want 422 at %s: %s", tc.method, tc.path, tc.body, r.Code, tc.loc, r.Body)
				continue
			}
			wantProblem(t, r, http.StatusUnprocessableEntity, tc.loc)
		}
		// Nothing of them was stored, and what is listed is valid JSON.
		for _, path := range []string{"/api/v1/tenants", "/api/v1/tenants/acme/endpoints", "/api/v1/tenants/acme/events", "/api/v1/event-types"} {
			r := admin.get(path)
			want(t, r, http.StatusOK)
			if !utf8.Valid(r.Body) || !json.Valid(r.Body) {
				t.Errorf("GET %s is not valid UTF-8 JSON: %q", path, r.Body)
			}
			if n := len(r.list(t)); path == "/api/v1/tenants" && n != 1 {
				t.Errorf("GET %s lists %d tenants, want only acme", path, n)
			}
		}
		if got := admin.get("/api/v1/tenants/acme").obj(t)["metadata"]; fmt.Sprint(got) != "map[]" {
			t.Errorf("acme's metadata after a refused PATCH: %v, want none", got)
		}
	})
}

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, loc string
	}{
		{`{"a": "ok"}`, ""},
		{"\"\xff\"", "body"},
		{"[\"a\", \"\xff\"]", "body[1]"},
		{"{\"a\": [{}, {\"b\": \"\xff\"}]}", "body.a[1].b"},
		{"{\"a\": {\"b\": 1, \"c\": [true, null, 2.5, \"\xff\"]}}", "body.a.c[3]"},
		{"{\"a\": {}, \"\xff\": 1}", "body"},
		{"{\"a\": {\"\xff\": 1}}", "body.a"},
		{"{\"a\": 1, \"b\": \"\xff\"}", "body.b"},
		{"{\"a\": [[], [1]], \"b\": [\"x\xff\"]}", "body.b[0]"},
		{"{\"a\": \xff}", ""},  // not JSON: huma says so
		{"{\"a\": \"\xff", ""}, // cut short: huma says so too
	} {
		loc, bad := invalidUTF8([]byte(tc.body))
		if loc != tc.loc || bad != (tc.loc != "") {
			t.Errorf("invalidUTF8(%q) = %q, %v; want %q, %v", tc.body, loc, bad, tc.loc, tc.loc != "")
		}
	}
}

func FuzzInvalidUTF8(f *testing.F) {
	for _, s := range []string{`{"a": "ok"}`, "\"\xff\"", "{\"a\": [{}, {\"b\": \"\xff\"}]}", "{\"\xff\": 1}", "[1, [2, \"\xc3\"]]", `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		loc, bad := invalidUTF8(body)
		switch {
		case utf8.Valid(body) && bad:
			t.Fatalf("invalidUTF8(%q) = %q for valid UTF-8", body, loc)
		case bad && !strings.HasPrefix(loc, "body"):
			t.Fatalf("invalidUTF8(%q) = %q, want a location in the body", body, loc)
		case !bad && json.Valid(body) && !utf8.Valid(body):
			t.Fatalf("invalidUTF8(%q) found nothing in valid JSON with invalid UTF-8", body)
		}
	})
}
