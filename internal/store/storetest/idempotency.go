package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// reserve reserves (scope, key) at created, as the API does before it runs
// a request.
func reserve(t *testing.T, st store.Store, scope, key string, created time.Time) {
	t.Helper()
	if err := st.IdempotencyPut(ctxT(t), &store.IdempotencyRecord{Scope: scope, Key: key, RequestHash: "rh", CreatedAt: created}); err != nil {
		t.Fatalf("reserve %s/%s: %v", scope, key, err)
	}
}

// wantRecord fails unless (scope, key) holds status and body.
func wantRecord(t *testing.T, st store.Store, scope, key string, status int, body string) {
	t.Helper()
	got, err := st.IdempotencyGet(ctxT(t), scope, key)
	if err != nil {
		t.Fatalf("IdempotencyGet %s/%s: %v, want status %d", scope, key, err, status)
	}
	if got.Status != status || string(got.Body) != body || got.RequestHash != "rh" {
		t.Fatalf("IdempotencyGet %s/%s = status %d body %q hash %q, want status %d body %q hash rh",
			scope, key, got.Status, got.Body, got.RequestHash, status, body)
	}
}

func testIdempotencyReserveComplete(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	reserve(t, st, "key_1", "k", t0)
	got := do(st.IdempotencyGet(ctx, "key_1", "k")).must(t)
	if !got.InProgress() || len(got.Body) != 0 {
		t.Fatalf("reservation reads back as status %d body %q, want in progress (0) with no body", got.Status, got.Body)
	}
	sameTime(t, "reservation CreatedAt", got.CreatedAt, us(t0))
	// A second reservation of the key loses.
	err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "k", RequestHash: "rh", CreatedAt: t0})
	wantErr(t, err, store.ErrConflict, "a second reservation of one key")

	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "k", Status: 201, Body: []byte(`{"id":"ep_1"}`)}); err != nil {
		t.Fatalf("IdempotencyComplete of a reservation: %v", err)
	}
	wantRecord(t, st, "key_1", "k", 201, `{"id":"ep_1"}`)
	sameTime(t, "completed CreatedAt", do(st.IdempotencyGet(ctx, "key_1", "k")).must(t).CreatedAt, us(t0))

	// Completing twice must not overwrite the first answer.
	err = st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "k", Status: 200, Body: []byte(`{"id":"ep_2"}`)})
	wantErr(t, err, store.ErrConflict, "IdempotencyComplete of a completed record")
	wantRecord(t, st, "key_1", "k", 201, `{"id":"ep_1"}`)

	// An answer with no body is stored as an empty one.
	reserve(t, st, "key_1", "empty", t0)
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "empty", Status: 204}); err != nil {
		t.Fatalf("IdempotencyComplete with no body: %v", err)
	}
	wantRecord(t, st, "key_1", "empty", 204, "")

	// Status 0 is not an answer: it would leave the key in progress.
	reserve(t, st, "key_1", "zero", t0)
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "zero", Status: 0}); err == nil {
		t.Fatal("IdempotencyComplete with status 0 = nil, want an error")
	}
	wantRecord(t, st, "key_1", "zero", 0, "")
}

func testIdempotencyCompleteMissing(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "nothing", Status: 201, Body: []byte(`{}`)})
	wantErr(t, err, store.ErrNotFound, "IdempotencyComplete of an unreserved key")
	_, err = st.IdempotencyGet(ctx, "key_1", "nothing")
	wantErr(t, err, store.ErrNotFound, "IdempotencyGet after completing an unreserved key")

	// Another scope's reservation of the same key is not this one.
	reserve(t, st, "key_2", "k", t0)
	err = st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "k", Status: 201})
	wantErr(t, err, store.ErrNotFound, "IdempotencyComplete under the wrong scope")
	wantRecord(t, st, "key_2", "k", 0, "")
}

func testIdempotencyRelease(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	reserve(t, st, "key_1", "k", t0)
	reserve(t, st, "key_2", "k", t0)
	if err := st.IdempotencyRelease(ctx, "key_1", "k"); err != nil {
		t.Fatalf("IdempotencyRelease of a reservation: %v", err)
	}
	_, err := st.IdempotencyGet(ctx, "key_1", "k")
	wantErr(t, err, store.ErrNotFound, "IdempotencyGet of a released reservation")
	wantRecord(t, st, "key_2", "k", 0, "") // another caller's is kept

	// Released, the key can be reserved again: the client's retry.
	reserve(t, st, "key_1", "k", t0.Add(time.Second))

	// Nothing to release is not an error.
	if err := st.IdempotencyRelease(ctx, "key_1", "never-used"); err != nil {
		t.Fatalf("IdempotencyRelease of nothing = %v, want nil", err)
	}
}

func testIdempotencyReleaseKeepsAnswers(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	// A record stored with its answer at once, as before reservations...
	if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "put", RequestHash: "rh", Status: 202, Body: []byte(`{"a":1}`), CreatedAt: t0}); err != nil {
		t.Fatalf("IdempotencyPut: %v", err)
	}
	// ...and one reserved then completed.
	reserve(t, st, "key_1", "done", t0)
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "done", Status: 201, Body: []byte(`{"b":2}`)}); err != nil {
		t.Fatalf("IdempotencyComplete: %v", err)
	}
	for _, k := range []string{"put", "done"} {
		if err := st.IdempotencyRelease(ctx, "key_1", k); err != nil {
			t.Fatalf("IdempotencyRelease of completed %s = %v, want nil (nothing to do)", k, err)
		}
		if err := st.IdempotencyReleaseAbandoned(ctx, "key_1", k, t0.Add(time.Hour)); err != nil {
			t.Fatalf("IdempotencyReleaseAbandoned of completed %s = %v, want nil (nothing to do)", k, err)
		}
	}
	wantRecord(t, st, "key_1", "put", 202, `{"a":1}`)
	wantRecord(t, st, "key_1", "done", 201, `{"b":2}`)
}

func testIdempotencyReleaseAbandoned(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	reserve(t, st, "key_1", "k", t0)
	// Made at the cutoff or after it, it is not abandoned.
	for _, before := range []time.Time{t0.Add(-time.Second), us(t0)} {
		if err := st.IdempotencyReleaseAbandoned(ctx, "key_1", "k", before); err != nil {
			t.Fatalf("IdempotencyReleaseAbandoned(before %v): %v", before, err)
		}
		wantRecord(t, st, "key_1", "k", 0, "")
	}
	if err := st.IdempotencyReleaseAbandoned(ctx, "key_1", "k", t0.Add(time.Millisecond)); err != nil {
		t.Fatalf("IdempotencyReleaseAbandoned: %v", err)
	}
	_, err := st.IdempotencyGet(ctx, "key_1", "k")
	wantErr(t, err, store.ErrNotFound, "IdempotencyGet of a released abandoned reservation")
	if err := st.IdempotencyReleaseAbandoned(ctx, "key_1", "k", t0.Add(time.Millisecond)); err != nil {
		t.Fatalf("IdempotencyReleaseAbandoned of nothing = %v, want nil", err)
	}
}

// testIdempotencyTakeOverAbandoned has several callers find one abandoned
// reservation at once and each release it and reserve the key: exactly one
// reservation may win, and none may delete the winner's.
func testIdempotencyTakeOverAbandoned(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	reserve(t, st, "key_1", "k", t0)
	now := t0.Add(2 * time.Minute)
	const callers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	errs := make(chan error, callers)
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			if err := st.IdempotencyReleaseAbandoned(ctx, "key_1", "k", now.Add(-time.Minute)); err != nil {
				errs <- err
				return
			}
			err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "k", RequestHash: "rh",
				CreatedAt: now.Add(time.Duration(i) * time.Microsecond)})
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("take over an abandoned reservation: %v", err)
	}
	if won != 1 {
		t.Fatalf("%d callers reserved the key after it was abandoned, want exactly 1", won)
	}
	got := do(st.IdempotencyGet(ctx, "key_1", "k")).must(t)
	if !got.InProgress() || got.CreatedAt.Before(us(now)) { // stored to the microsecond
		t.Fatalf("after the take-over the key holds status %d made %v, want a fresh reservation (made at %v or later)", got.Status, got.CreatedAt, now)
	}
}

// An admin key's records of requests under a tenant are that tenant's:
// deleting the tenant deletes them, as it deletes its own keys' records
// (testTenantDeleteCascades). Issue 12: a key creation replayed with 201
// after its tenant was deleted.
func testIdempotencyTenantDeleteDeletesItsRecords(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "a")
	mkTenant(t, st, "b")
	put := func(key, tenantID string) {
		t.Helper()
		if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_admin", TenantID: tenantID, Key: key,
			RequestHash: "rh", Status: 201, Body: []byte(`{}`), CreatedAt: t0}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("for-a", "a")
	put("for-b", "b")
	put("for-none", "")
	// A tenant's request reserved, then answered.
	if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_admin", TenantID: "a", Key: "reserved-for-a", RequestHash: "rh", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_admin", Key: "reserved-for-a", Status: 201}); err != nil {
		t.Fatal(err)
	}
	// A request that creates its tenant names it only in its answer.
	reserve(t, st, "key_admin", "creates-a", t0)
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_admin", TenantID: "a", Key: "creates-a", Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatalf("IdempotencyComplete naming its tenant: %v", err)
	}
	if got := do(st.IdempotencyGet(ctx, "key_admin", "creates-a")).must(t); got.TenantID != "a" {
		t.Fatalf("completed record's tenant %q, want a", got.TenantID)
	}
	if got := do(st.IdempotencyGet(ctx, "key_admin", "for-b")).must(t); got.TenantID != "b" {
		t.Fatalf("record's tenant %q, want b", got.TenantID)
	}

	if err := st.TenantDelete(ctx, "a"); err != nil {
		t.Fatalf("TenantDelete: %v", err)
	}
	for _, k := range []string{"for-a", "reserved-for-a", "creates-a"} {
		_, err := st.IdempotencyGet(ctx, "key_admin", k)
		wantErr(t, err, store.ErrNotFound, "the deleted tenant's record "+k)
	}
	wantRecord(t, st, "key_admin", "for-b", 201, `{}`)
	wantRecord(t, st, "key_admin", "for-none", 201, `{}`)

	// No record may name a tenant that does not exist.
	err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: "key_admin", TenantID: "a", Key: "late", RequestHash: "rh", CreatedAt: t0})
	wantErr(t, err, store.ErrNotFound, "IdempotencyPut for a deleted tenant")
	reserve(t, st, "key_admin", "late", t0)
	err = st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_admin", TenantID: "a", Key: "late", Status: 201})
	wantErr(t, err, store.ErrNotFound, "IdempotencyComplete naming a deleted tenant")
	wantRecord(t, st, "key_admin", "late", 0, "")
}

func testIdempotencyReleaseExpired(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	reserve(t, st, "key_1", "open", t0)
	reserve(t, st, "key_1", "done", t0)
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "done", Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"open", "done"} {
		// Made at the cutoff or after it, it has not expired.
		for _, before := range []time.Time{t0.Add(-time.Second), us(t0)} {
			if err := st.IdempotencyReleaseExpired(ctx, "key_1", k, before); err != nil {
				t.Fatalf("IdempotencyReleaseExpired(%s, before %v): %v", k, before, err)
			}
			do(st.IdempotencyGet(ctx, "key_1", k)).must(t)
		}
		// Another scope's is another record.
		if err := st.IdempotencyReleaseExpired(ctx, "key_2", k, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		do(st.IdempotencyGet(ctx, "key_1", k)).must(t)
		// Expired, it goes whether answered or not, and the key is free.
		if err := st.IdempotencyReleaseExpired(ctx, "key_1", k, t0.Add(time.Millisecond)); err != nil {
			t.Fatalf("IdempotencyReleaseExpired(%s): %v", k, err)
		}
		_, err := st.IdempotencyGet(ctx, "key_1", k)
		wantErr(t, err, store.ErrNotFound, "IdempotencyGet of an expired record "+k)
		reserve(t, st, "key_1", k, t0.Add(time.Hour))
	}
}

func testIdempotencyDeleteExpired(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	for i := range 5 {
		reserve(t, st, fmt.Sprintf("key_%d", i), "old", t0.Add(time.Duration(i)*time.Second))
	}
	reserve(t, st, "key_0", "new", t0.Add(time.Hour))
	if err := st.IdempotencyComplete(ctx, &store.IdempotencyRecord{Scope: "key_1", Key: "old", Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	cutoff := t0.Add(4 * time.Second) // key_0 .. key_3 expired, key_4 made at it
	n, err := st.IdempotencyDeleteExpired(ctx, cutoff, 3)
	if err != nil || n != 3 {
		t.Fatalf("IdempotencyDeleteExpired(limit 3) = %d, %v; want 3 of the 4 expired", n, err)
	}
	n, err = st.IdempotencyDeleteExpired(ctx, cutoff, 3)
	if err != nil || n != 1 {
		t.Fatalf("IdempotencyDeleteExpired again = %d, %v; want the last expired one", n, err)
	}
	for i := range 4 {
		_, err := st.IdempotencyGet(ctx, fmt.Sprintf("key_%d", i), "old")
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("expired record of key_%d", i))
	}
	wantRecord(t, st, "key_4", "old", 0, "")
	wantRecord(t, st, "key_0", "new", 0, "")
	if n, err := st.IdempotencyDeleteExpired(ctx, cutoff, 3); err != nil || n != 0 {
		t.Fatalf("IdempotencyDeleteExpired with nothing expired = %d, %v; want 0", n, err)
	}
}
