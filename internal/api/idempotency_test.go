package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
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
			if r.Header.Get("Idempotent-Replayed") == "true" && bytes.Contains(r.Body, []byte(`"secret":`)) {
				t.Fatalf("a replayed answer carries the secret: %s", r.Body)
			}
			// The one that ran shows the secret once; replays say it is
			// omitted. Everything else is the same answer.
			if first == nil {
				first = r
			} else if a, b := answerWithoutSecret(t, first.Body), answerWithoutSecret(t, r.Body); a != b {
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

// answerWithoutSecret is an answer's JSON without the members a replay leaves
// out or adds in their place.
func answerWithoutSecret(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, body)
	}
	for _, k := range []string{"secret", "secret_omitted", "key", "key_omitted"} {
		delete(m, k)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
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
		// The replay is the first answer less the secret, which is never kept.
		if again.str(t, "id") != r.str(t, "id") || again.Header.Get("Idempotent-Replayed") != "true" {
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

// idem posts body to path as the admin with an Idempotency-Key.
func (h *harness) idem(path, key string, body any) *response {
	h.t.Helper()
	return h.do(req{method: http.MethodPost, path: path, key: h.admin, body: body,
		header: map[string]string{"Idempotency-Key": key}})
}

// wantSecretOmitted checks that the record of idem holds no secret and
// that its replay is the first answer without member secret and with
// "<secret>_omitted": true, marked replayed.
func wantSecretOmitted(t *testing.T, h *harness, path, idem string, body any, first *response, secret string) {
	t.Helper()
	value := first.str(t, secret)
	if value == "" {
		t.Fatalf("first answer has no %s: %s", secret, first.Body)
	}
	if _, ok := first.obj(t)[secret+"_omitted"]; ok {
		t.Fatalf("first answer says %s_omitted: %s", secret, first.Body)
	}
	rec, err := h.st.IdempotencyGet(context.Background(), adminKeyID(t, h), idem)
	if err != nil {
		t.Fatalf("record of %s: %v", idem, err)
	}
	if bytes.Contains(rec.Body, []byte(value)) || bytes.Contains(rec.Body, []byte(`"`+secret+`"`)) {
		t.Fatalf("the idempotency record of %s holds the %s: %s", path, secret, rec.Body)
	}
	again := h.idem(path, idem, body)
	want(t, again, first.Code)
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat of %s was not a replay: %s", path, again.Body)
	}
	wantObj := first.obj(t)
	delete(wantObj, secret)
	wantObj[secret+"_omitted"] = true
	if got := again.obj(t); !reflect.DeepEqual(got, wantObj) {
		t.Fatalf("replay of %s\n got %s\nwant the first answer without %s and with %s_omitted: true: %v", path, again.Body, secret, secret, wantObj)
	}
}

// A secret shown once (a tenant key, an endpoint's signing secret) is never
// kept in an idempotency record: its replay lacks it and says so. Issue 12:
// the full key was stored, in clear, and replayed.
func TestIdempotency_SecretsAreNeverStored(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")

		keys := "/api/v1/tenants/acme/keys"
		first := h.idem(keys, "key-1", map[string]any{"name": "ci"})
		want(t, first, http.StatusCreated)
		wantSecretOmitted(t, h, keys, "key-1", map[string]any{"name": "ci"}, first, "key")
		// The key itself works, and the replay made no other.
		want(t, h.as(first.str(t, "key")).get("/api/v1/tenants/acme"), http.StatusOK)

		first = h.idem("/api/v1/keys", "admin-key-1", map[string]any{"name": "ops"})
		want(t, first, http.StatusCreated)
		wantSecretOmitted(t, h, "/api/v1/keys", "admin-key-1", map[string]any{"name": "ops"}, first, "key")
		want(t, h.as(first.str(t, "key")).get("/api/v1/tenants"), http.StatusOK)
		if n := len(h.as(h.admin).get("/api/v1/keys").list(t)); n != 2 {
			t.Fatalf("%d admin keys after a creation and its replay, want 2", n)
		}

		eps := "/api/v1/tenants/acme/endpoints"
		body := map[string]any{"url": "https://example.com/hook"}
		first = h.idem(eps, "ep-1", body)
		want(t, first, http.StatusCreated)
		wantSecretOmitted(t, h, eps, "ep-1", body, first, "secret")
		if n := len(h.as(h.admin).get(eps).list(t)); n != 1 {
			t.Fatalf("%d endpoints, want 1", n)
		}

		rotate := eps + "/" + first.str(t, "id") + "/rotate-secret"
		first = h.idem(rotate, "rot-1", map[string]any{"grace": "1h"})
		want(t, first, http.StatusOK)
		wantSecretOmitted(t, h, rotate, "rot-1", map[string]any{"grace": "1h"}, first, "secret")
	})
}

// Every operation whose answer has a member named as a secret is one whose
// idempotency record leaves it out, and says so in its schema.
func TestIdempotency_EveryAnswerWithASecretIsStoredWithoutIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	doc := h.srv.api.OpenAPI()
	checked := 0
	for path, item := range doc.Paths {
		op := item.Post
		if op == nil {
			continue
		}
		for code, resp := range op.Responses {
			mt := resp.Content["application/json"]
			if !strings.HasPrefix(code, "2") || mt == nil || mt.Schema == nil {
				continue
			}
			schema := mt.Schema
			if schema.Ref != "" {
				schema = doc.Components.Schemas.SchemaFromRef(schema.Ref)
			}
			for _, name := range []string{"key", "secret", "token", "password"} {
				if _, ok := schema.Properties[name]; !ok {
					continue
				}
				checked++
				if got, _ := op.Metadata[metaSecretMember].(string); got != name {
					t.Errorf("POST %s answers %s with a %q member, but its idempotency record would keep it (metadata %q)", path, code, name, got)
				}
				if _, ok := schema.Properties[name+"_omitted"]; !ok {
					t.Errorf("POST %s: the schema of its answer has no %s_omitted member for the replay", path, name)
				}
			}
		}
	}
	if checked != 5 {
		t.Errorf("%d answers with a secret, want 5 (a tenant key's and an admin key's creation, an endpoint's and an operator endpoint's creation, a rotation)", checked)
	}
}

func TestIdempotency_RecordsExpireAfterADay(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		fake := clock.NewFake(start)
		h := newHarness(t, st, func(c *Config) { c.Clock = fake })
		h.tenantWithKey(t, "acme")
		const path = "/api/v1/tenants/acme/events"
		body := `{"type": "user.created", "data": {}}`
		count := func() int { return len(h.as(h.admin).get(path).list(t)) }
		scope := adminKeyID(t, h)

		want(t, h.idem(path, "k", body), http.StatusAccepted)
		want(t, h.idem(path, "other", body), http.StatusAccepted)
		// Within the day, a repeat is the first answer.
		fake.Advance(idempotencyTTL - time.Second)
		r := h.idem(path, "k", body)
		want(t, r, http.StatusAccepted)
		if r.Header.Get("Idempotent-Replayed") != "true" || count() != 2 {
			t.Fatalf("repeat within a day: replayed %q, %d events; want a replay and 2 events", r.Header.Get("Idempotent-Replayed"), count())
		}
		// A day on, the key is free: the repeat is a new request.
		fake.Advance(2 * time.Second)
		r = h.idem(path, "k", body)
		want(t, r, http.StatusAccepted)
		if r.Header.Get("Idempotent-Replayed") != "" || count() != 3 {
			t.Fatalf("repeat after a day: replayed %q, %d events; want it run, 3 events", r.Header.Get("Idempotent-Replayed"), count())
		}
		// The next reservation once a sweep is due (one every
		// idempotencySweepEvery per node) deletes every expired record, the
		// one nobody repeated too; the fresh one stays.
		h.srv.idempotencySweeps.Wait()
		if _, err := st.IdempotencyGet(context.Background(), scope, "other"); err != nil {
			t.Fatalf("the record of other is gone before a sweep was due: %v", err)
		}
		fake.Advance(idempotencySweepEvery)
		want(t, h.idem(path, "trigger", body), http.StatusAccepted)
		h.srv.idempotencySweeps.Wait()
		ctx := context.Background()
		if rec, err := st.IdempotencyGet(ctx, scope, "other"); err == nil {
			t.Fatalf("expired record of %q still stored (made %v, now %v)", "other", rec.CreatedAt, fake.Now())
		}
		if _, err := st.IdempotencyGet(ctx, scope, "k"); err != nil {
			t.Fatalf("the fresh record of k: %v", err)
		}
		if !strings.Contains(h.logs.String(), "expired idempotency records deleted") {
			t.Errorf("the sweep logged nothing:\n%s", h.logs.String())
		}
	})
}

// Deleting a tenant deletes the records of requests under it, the admin's
// too, and of the request that created it. Issue 12: a creation replayed
// 201 after its tenant was deleted.
func TestIdempotency_TenantDeleteDeletesItsRecords(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		create := map[string]any{"id": "acme", "name": "Acme"}
		want(t, h.idem("/api/v1/tenants", "t-1", create), http.StatusCreated)
		key1 := h.idem("/api/v1/tenants/acme/keys", "k-1", nil)
		want(t, key1, http.StatusCreated)
		want(t, h.idem("/api/v1/tenants/acme/endpoints", "e-1", map[string]any{"url": "https://example.com/hook"}), http.StatusCreated)
		want(t, h.idem("/api/v1/tenants", "t-2", map[string]any{"id": "other"}), http.StatusCreated)

		want(t, admin.delete("/api/v1/tenants/acme"), http.StatusNoContent)
		scope := adminKeyID(t, h)
		for _, k := range []string{"t-1", "k-1", "e-1"} {
			if rec, err := st.IdempotencyGet(context.Background(), scope, k); err == nil {
				t.Fatalf("record %s of the deleted tenant is still stored: %d %s", k, rec.Status, rec.Body)
			}
		}
		if _, err := st.IdempotencyGet(context.Background(), scope, "t-2"); err != nil {
			t.Fatalf("another tenant's record: %v", err)
		}

		// The same requests run again: the tenant is created anew, and so
		// is a key for it.
		r := h.idem("/api/v1/tenants", "t-1", create)
		want(t, r, http.StatusCreated)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("the creation of the deleted tenant was replayed, want it run again")
		}
		want(t, admin.get("/api/v1/tenants/acme"), http.StatusOK)
		key2 := h.idem("/api/v1/tenants/acme/keys", "k-1", nil)
		want(t, key2, http.StatusCreated)
		if key2.Header.Get("Idempotent-Replayed") != "" || key2.str(t, "id") == key1.str(t, "id") || key2.str(t, "key") == "" {
			t.Fatalf("key creation after the tenant was deleted answered %s (replayed %q), want a new key", key2.Body, key2.Header.Get("Idempotent-Replayed"))
		}
	})
}

func TestWithoutSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"id":"key_1","key":"hk_x","name":"ci"}` + "\n", `{"id":"key_1","key_omitted":true,"name":"ci"}` + "\n"},
		{`{"key":{"nested":"hk_x"},"n":1.50}`, `{"key_omitted":true,"n":1.50}`},
		{`{"id":"key_1"}`, `{"id":"key_1"}`}, // nothing to take out
		{`{"a":{"key":"inner"}}`, `{"a":{"key":"inner"}}`},
	} {
		got, err := withoutSecret([]byte(tc.in), "key")
		if err != nil || string(got) != tc.want {
			t.Errorf("withoutSecret(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{``, `[]`, `"hk_x"`, `{"key":`, `{"key":"hk_x"`} {
		if got, err := withoutSecret([]byte(in), "key"); err == nil {
			t.Errorf("withoutSecret(%s) = %s, want an error: it cannot be known to hold no secret", in, got)
		}
	}
}
