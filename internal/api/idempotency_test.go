package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestIdempotency_ReplaysFirstAnswer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{})
		post := func(key, idem, body string) *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: key, body: body,
				header: map[string]string{"Idempotency-Key": idem}})
		}
		body := `{"type": "user.created", "data": {"n": 1}}`
		first := post(h.admin, "k1", body)
		want(t, first, http.StatusAccepted)
		again := post(h.admin, "k1", body)
		want(t, again, http.StatusAccepted)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("repeat answered %s (replayed %q), want the first answer %s", again.Body, again.Header.Get("Idempotent-Replayed"), first.Body)
		}
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/events").list(t)); n != 1 {
			t.Fatalf("%d events after a repeated POST, want 1", n)
		}

		// The same key for another request is the client's mistake.
		r := post(h.admin, "k1", `{"type": "user.created", "data": {"n": 2}}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "header.Idempotency-Key")
		wantProblem(t, h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "x"}`,
			header: map[string]string{"Idempotency-Key": "k1"}}), http.StatusUnprocessableEntity, "header.Idempotency-Key")

		// Keys are per caller: another API key's k1 is its own.
		tenantKey := h.as(h.admin).post("/api/v1/tenants/acme/keys", nil).str(t, "key")
		want(t, post(tenantKey, "k1", body), http.StatusAccepted)
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/events").list(t)); n != 2 {
			t.Fatalf("%d events, want 2: another caller's key is not a repeat", n)
		}

		// Errors are not kept: after fixing the request, the same key works.
		bad := `{"type": "user..created", "data": {}}`
		wantProblem(t, post(h.admin, "k2", bad), http.StatusUnprocessableEntity, "body.type")
		wantProblem(t, post(h.admin, "k2", bad), http.StatusUnprocessableEntity, "body.type")
		want(t, post(h.admin, "k2", `{"type": "user.created", "data": {}}`), http.StatusAccepted)
	})
}

func TestIdempotency_TenantCreate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		post := func() *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "acme"}`,
				header: map[string]string{"Idempotency-Key": "create-acme"}})
		}
		want(t, post(), http.StatusCreated)
		// Without the header, the repeat would be a 409.
		r := post()
		want(t, r, http.StatusCreated)
		if r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("replayed content type %q", r.Header.Get("Content-Type"))
		}
		wantProblem(t, h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "acme"}`,
			header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}), http.StatusUnprocessableEntity, "header.Idempotency-Key")
	})
}

// adminKeyID is the id of the harness's admin key: the scope of its
// Idempotency-Keys.
func adminKeyID(t *testing.T, h *harness) string {
	t.Helper()
	k, err := h.st.KeyGetByHash(context.Background(), apikey.Hash(h.admin))
	if err != nil {
		t.Fatalf("look up the admin key: %v", err)
	}
	return k.ID
}

// postConcurrently sends n copies of one POST with one Idempotency-Key at
// the same moment and returns the answers.
func postConcurrently(h *harness, n int, path, body, idem string) []*response {
	out := make([]*response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = h.do(req{method: http.MethodPost, path: path, key: h.admin, body: body,
				header: map[string]string{"Idempotency-Key": idem}})
		})
	}
	close(start)
	wg.Wait()
	return out
}

// wantOneRun checks the answers to concurrent copies of one request: the
// operation ran once (one answer not marked replayed), every other answer is
// that answer replayed or 409 in progress, never an answer of its own.
func wantOneRun(t *testing.T, rs []*response, code int) {
	t.Helper()
	var first *response
	ran, inProgress := 0, 0
	for _, r := range rs {
		switch r.Code {
		case code:
			if r.Header.Get("Idempotent-Replayed") != "true" {
				ran++
			}
			if first == nil {
				first = r
			} else if !bytes.Equal(r.Body, first.Body) {
				t.Fatalf("two different %d answers to one request with one key:\n%s\n%s", code, first.Body, r.Body)
			}
		case http.StatusConflict:
			wantInProgress(t, r)
			inProgress++
		default:
			t.Fatalf("concurrent copy answered %d, want %d or 409 in progress: %s", r.Code, code, r.Body)
		}
	}
	if ran != 1 {
		t.Fatalf("%d of %d concurrent copies ran the operation (%d answered 409), want exactly 1", ran, len(rs), inProgress)
	}
	t.Logf("%d copies: 1 ran, %d replayed, %d in progress", len(rs), len(rs)-1-inProgress, inProgress)
}

// wantInProgress fails unless r is the 409 for a key whose first request
// still runs.
func wantInProgress(t *testing.T, r *response) {
	t.Helper()
	wantProblem(t, r, http.StatusConflict, "")
	if !strings.Contains(r.obj(t)["detail"].(string), "still in progress") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("409 %s (Retry-After %q), want the Idempotency-Key in progress answer with a Retry-After",
			r.Body, r.Header.Get("Retry-After"))
	}
}

func TestIdempotency_ConcurrentEndpointCreateRunsOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		const path = "/api/v1/tenants/acme/endpoints"
		body := `{"url": "https://example.com/hook", "description": "once"}`
		rs := postConcurrently(h, 8, path, body, "create-hook")
		wantOneRun(t, rs, http.StatusCreated)
		eps := h.as(h.admin).get(path).list(t)
		if len(eps) != 1 {
			t.Fatalf("%d endpoints after 8 concurrent creates with one key, want 1", len(eps))
		}
		// Once it has answered, a repeat is the stored answer: the endpoint
		// that exists.
		again := h.do(req{method: http.MethodPost, path: path, key: h.admin, body: body,
			header: map[string]string{"Idempotency-Key": "create-hook"}})
		want(t, again, http.StatusCreated)
		if id := again.str(t, "id"); id != eps[0]["id"] || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("repeat answered endpoint %s (replayed %q), want the replayed answer for %v", id, again.Header.Get("Idempotent-Replayed"), eps[0]["id"])
		}
	})
}

func TestIdempotency_ConcurrentTenantCreateRunsOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		// Without the reservation, the losers would answer 409 "already
		// exists" (the store's uniqueness), which wantOneRun refuses.
		rs := postConcurrently(h, 8, "/api/v1/tenants", `{"id": "acme", "name": "Acme"}`, "create-acme")
		wantOneRun(t, rs, http.StatusCreated)
		if n := len(h.as(h.admin).get("/api/v1/tenants").list(t)); n != 1 {
			t.Fatalf("%d tenants, want 1", n)
		}
	})
}

func TestIdempotency_CorrectedRetryAfterErrorRuns(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		post := func(body string) *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/endpoints", key: h.admin, body: body,
				header: map[string]string{"Idempotency-Key": "k"}})
		}
		wantProblem(t, post(`{"url": "ftp://example.com/hook"}`), http.StatusUnprocessableEntity, "body.url")
		rec, err := st.IdempotencyGet(context.Background(), adminKeyID(t, h), "k")
		if err == nil {
			t.Fatalf("after a 422 the key holds status %d, want it freed", rec.Status)
		}
		ok := post(`{"url": "https://example.com/hook"}`)
		want(t, ok, http.StatusCreated)
		if ok.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("the corrected request was answered as a replay, want it run")
		}
		if n := len(h.as(h.admin).get("/api/v1/tenants/acme/endpoints").list(t)); n != 1 {
			t.Fatalf("%d endpoints, want 1", n)
		}
		// Now the key is the corrected request's.
		wantProblem(t, post(`{"url": "ftp://example.com/hook"}`), http.StatusUnprocessableEntity, "header.Idempotency-Key")
	})
}

func TestIdempotency_ReservationInProgressAndAbandoned(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		h := newHarness(t, st, func(c *Config) { c.Clock = fake })
		h.tenantWithKey(t, "acme")
		const path = "/api/v1/tenants/acme/endpoints"
		body := `{"url": "https://example.com/hook"}`
		post := func(idem string) *response {
			return h.do(req{method: http.MethodPost, path: path, key: h.admin, body: body,
				header: map[string]string{"Idempotency-Key": idem}})
		}
		count := func() int { return len(h.as(h.admin).get(path).list(t)) }
		scope := adminKeyID(t, h)
		hash := idempotencyHash(http.MethodPost, path, []byte(body))
		ctx := context.Background()
		reserve := func(idem, hash string, age time.Duration) {
			t.Helper()
			if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: scope, Key: idem, RequestHash: hash, CreatedAt: fake.Now().Add(-age)}); err != nil {
				t.Fatalf("reserve %s: %v", idem, err)
			}
		}

		// A request holding the key for 59s may still be running.
		reserve("busy", hash, 59*time.Second)
		wantInProgress(t, post("busy"))
		if n := count(); n != 0 {
			t.Fatalf("%d endpoints after a repeat of a request in progress, want 0", n)
		}

		// A minute on, it was left by a crash: the request runs, and its
		// answer is kept.
		fake.Advance(2 * time.Second)
		r := post("busy")
		want(t, r, http.StatusCreated)
		if n := count(); n != 1 {
			t.Fatalf("%d endpoints after taking over an abandoned key, want 1", n)
		}
		if !strings.Contains(h.logs.String(), "abandoned") {
			t.Errorf("taking over an abandoned key logged nothing about it:\n%s", h.logs.String())
		}
		again := post("busy")
		want(t, again, http.StatusCreated)
		if !bytes.Equal(again.Body, r.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("repeat after the take-over answered %s, want the replay of %s", again.Body, r.Body)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d endpoints after the repeat, want 1", n)
		}

		// An abandoned reservation for another request does not block the
		// key either.
		reserve("other", "not-this-request", 5*time.Minute)
		want(t, post("other"), http.StatusCreated)
		if n := count(); n != 2 {
			t.Fatalf("%d endpoints, want 2", n)
		}
	})
}

// failingComplete is a real store whose IdempotencyComplete fails.
type failingComplete struct{ store.Store }

func (failingComplete) IdempotencyComplete(context.Context, *store.IdempotencyRecord) error {
	return errors.New("complete idempotency key: disk on fire")
}

func TestIdempotency_AnswerSentWhenStoringItFails(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		fake := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		h := newHarness(t, failingComplete{st}, func(c *Config) { c.Clock = fake })
		post := func(id string) *response {
			return h.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: h.admin, body: `{"id": "` + id + `"}`,
				header: map[string]string{"Idempotency-Key": "k-" + id}})
		}
		r := post("acme")
		want(t, r, http.StatusCreated)
		if r.str(t, "id") != "acme" {
			t.Fatalf("answer %s, want the tenant created", r.Body)
		}
		if !strings.Contains(h.logs.String(), "disk on fire") {
			t.Fatalf("the failure to store the answer was not logged:\n%s", h.logs.String())
		}
		// The key stays reserved: a repeat is told to wait, not run again...
		wantInProgress(t, post("acme"))
		// ...until the reservation is abandoned.
		fake.Advance(idempotencyAbandonAfter + time.Second)
		wantProblem(t, post("acme"), http.StatusConflict, "") // the tenant exists: it ran again
	})
}
