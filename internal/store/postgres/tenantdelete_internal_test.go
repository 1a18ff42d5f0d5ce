package postgres

import (
	"context"
	"testing"
	"time"
)

// A tenant's delete and a batch of attempt records that holds one of the
// tenant's deliveries do not deadlock: the batch (deliveries, then their
// endpoints) finishes, then the delete (which locks the tenant's leased
// deliveries before the cascade locks its endpoints) goes on. Before, the
// cascade held the endpoint the batch needed while it waited for the
// batch's delivery, and PostgreSQL broke the cycle after a second.
func TestTenantDelete_DoesNotDeadlockWithARecord(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep, claimed, now := seedClaimed(ctx, t, st, 1)

	// The batch: its delivery locked, as its fenced UPDATE does.
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// Past half a second of waiting for a lock it fails: the delete's
	// cascade, had it locked the endpoint first, would hold it until the
	// database broke the deadlock, a second on.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '500ms'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE deliveries SET updated_at = $2 WHERE id = $1`, claimed[0].Delivery.ID, now); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- st.TenantDelete(ctx, "acme") }()
	// The delete now waits for the batch's delivery row.
	waiting := func() bool {
		var n int
		_ = st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'
			  AND (query LIKE '%DELETE FROM tenants%' OR query LIKE '%status = ''delivering'' ORDER BY id%')`).Scan(&n)
		return n > 0
	}
	for !waiting() {
		if ctx.Err() != nil {
			t.Fatal("the tenant's delete never waited for the batch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The batch goes on to its endpoint's health, and commits.
	if _, err := tx.Exec(ctx, `UPDATE endpoints SET last_attempt_at = $2 WHERE id = $1`, ep.ID, now); err != nil {
		t.Fatalf("the batch's endpoint update waited for the delete: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete tenant: %v", err)
	}
}

// A tenant's delete takes its turn with the claims: a claim giving a
// rate-limited endpoint its turn locks the endpoint while it holds the
// deliveries it leased, which the delete's cascade takes in the other
// order.
func TestTenantDelete_TakesItsTurnWithTheClaims(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seedClaimed(ctx, t, st, 1)

	// A claim under way: it holds the claims' turn.
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, lockClaim); err != nil {
		t.Fatal(err)
	}
	var claimer int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&claimer); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- st.TenantDelete(ctx, "acme") }()
	// Another backend waits for this schema's claim lock, which the
	// claim's holds (other tests' schemas have locks of their own).
	waiting := func() bool {
		var n int
		_ = st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks w
			JOIN pg_locks h ON h.locktype = 'advisory' AND h.granted AND h.pid = $1
			  AND w.classid = h.classid AND w.objid = h.objid AND w.objsubid = h.objsubid
			WHERE w.locktype = 'advisory' AND NOT w.granted`, claimer).Scan(&n)
		return n > 0
	}
	waitUntil(ctx, t, waiting, func() bool { return len(deleted) > 0 }, "the tenant's delete to wait for the claim under way")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete tenant: %v", err)
	}
}

// waitUntil polls cond until it holds, failing the test if over() says
// the work waited for ended first, or when ctx ends: what names the wait.
func waitUntil(ctx context.Context, t *testing.T, cond, over func() bool, what string) {
	t.Helper()
	for !cond() {
		if over() {
			t.Fatalf("waiting for %s: it ended without", what)
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
