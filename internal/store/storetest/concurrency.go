package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func testClaimConcurrent(t *testing.T, st store.Store) {
	claimConcurrently(t, []store.Store{st})
}

func testClaimConcurrentNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	claimConcurrently(t, open(t, 2, true))
}

// claimConcurrently has several goroutines (spread over the stores, as over
// nodes) claim until nothing is left, twice: first against the cap, then,
// once everything claimed is recorded, for the rest. No delivery may be
// claimed twice, and no endpoint may exceed the cap.
func claimConcurrently(t *testing.T, stores []store.Store) {
	ctx := ctxT(t)
	st := stores[0]
	mkTenant(t, st, "acme")
	const endpoints, perEndpoint, cap = 4, 50, 30
	var eps []*store.Endpoint
	for range endpoints {
		eps = append(eps, mkEndpoint(t, st, "acme"))
	}
	for i := range perEndpoint {
		mkEvent(t, st, "acme", "user.created", t0.Add(time.Duration(i)*time.Millisecond))
	}
	now := t0.Add(time.Second)

	owners := map[string]string{} // delivery id -> who claimed it
	round := func() []*store.Claimed {
		var mu sync.Mutex
		var got []*store.Claimed
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			s := stores[w%len(stores)]
			wg.Go(func() {
				for {
					c, err := s.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
						Owner: fmt.Sprintf("w%d", w), Now: now, Lease: time.Minute, Limit: 7, PerEndpoint: cap,
					})
					if err != nil {
						errs <- err
						return
					}
					if len(c) == 0 {
						return
					}
					mu.Lock()
					got = append(got, c...)
					for _, x := range c {
						if prev, dup := owners[x.Delivery.ID]; dup {
							t.Errorf("delivery %s claimed by %s and again by w%d", x.Delivery.ID, prev, w)
						}
						owners[x.Delivery.ID] = fmt.Sprintf("w%d", w)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent claim: %v", err)
		}
		return got
	}

	check := func(got []*store.Claimed, wantPerEndpoint int) {
		t.Helper()
		n := countBy(got, byEndpoint)
		for _, ep := range eps {
			if n[ep.ID] != wantPerEndpoint {
				t.Errorf("endpoint %s: %d claimed, want %d", ep.ID, n[ep.ID], wantPerEndpoint)
			}
		}
	}
	first := round()
	check(first, cap)
	for _, c := range first {
		record(t, st, owners[c.Delivery.ID], c.Delivery.ID, store.StatusDelivered, now, nil)
	}
	check(round(), perEndpoint-cap)
	if len(owners) != endpoints*perEndpoint {
		t.Errorf("%d distinct deliveries claimed in all, want %d", len(owners), endpoints*perEndpoint)
	}
}

func testCapAcrossNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	stores := open(t, 2, true)
	mkTenant(t, stores[0], "acme")
	ep := mkEndpoint(t, stores[0], "acme")
	for i := range 5 {
		mkEvent(t, stores[0], "acme", "x", t0.Add(time.Duration(i)*time.Millisecond))
	}
	now := t0.Add(time.Second)
	if got := claim(t, stores[0], "node1", now, 10, 3); len(got) != 3 {
		t.Fatalf("node 1 claimed %d, want the cap of 3", len(got))
	}
	if got := claim(t, stores[1], "node2", now, 10, 3); len(got) != 0 {
		t.Fatalf("node 2 claimed %d at %s whose cap node 1 filled, want 0", len(got), ep.ID)
	}
}

func testMigrateConcurrently(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	stores := open(t, 3, false)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	results := make([]*store.MigrateResult, len(stores))
	for i, s := range stores {
		wg.Go(func() { results[i], errs[i] = s.MigrateUp(ctx) })
	}
	wg.Wait()
	// Each migration ran once, on one node, which says so.
	applied := map[int64]int{}
	var latest int64
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: MigrateUp = %v, want nil", i, err)
		}
		for _, m := range results[i].Applied {
			applied[m.Version]++
			latest = max(latest, m.Version)
		}
	}
	for v := int64(1); v <= latest; v++ {
		if applied[v] != 1 {
			t.Errorf("migration %d was reported applied %d times across the nodes, want once", v, applied[v])
		}
	}
	for i, r := range results {
		if r.Version != latest || latest < 3 {
			t.Errorf("node %d: schema version %d after, want the latest migration's, %d", i, r.Version, latest)
		}
	}
	mkTenant(t, stores[0], "acme")
	do(stores[2].TenantGet(ctx, "acme")).must(t)
}

// MigrateUp on a fresh database applies every migration in order and
// says so; again, it applies none and gives the same version.
func testMigrateUpSaysWhatItApplied(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	st := open(t, 1, false)[0]
	ctx := ctxT(t)
	first, err := st.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Applied) < 3 {
		t.Fatalf("a fresh database: applied %+v, want every migration", first.Applied)
	}
	for i, m := range first.Applied {
		if m.Version != int64(i+1) || !strings.HasPrefix(m.Name, fmt.Sprintf("%05d_", i+1)) || !strings.HasSuffix(m.Name, ".sql") {
			t.Errorf("applied[%d] = %+v, want migration %d, its file's name", i, m, i+1)
		}
	}
	if first.Applied[0].Name != "00001_init.sql" || first.Version != int64(len(first.Applied)) {
		t.Errorf("applied %+v, version %d", first.Applied, first.Version)
	}
	again, err := st.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Applied) != 0 || again.Version != first.Version {
		t.Errorf("again: applied %+v, version %d; want none, version %d", again.Applied, again.Version, first.Version)
	}
}

// listenOnce opens a fresh Listen, runs op, and waits for the wake-up. A
// fresh LISTEN per operation means a late signal of an earlier operation
// cannot be mistaken for this one's.
func listenOnce(t *testing.T, listener, actor store.Store, what string, op func(st store.Store)) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	ch, err := listener.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	op(actor)
	waitWake(t, ch, what)
}

func testListenWakes(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")

	var ev *store.EventCreateResult
	listenOnce(t, st, st, "EventCreate", func(st store.Store) {
		ev = mkEvent(t, st, "acme", "user.created", t0)
	})
	id := ev.Deliveries[0].ID

	claim(t, st, "w", t0, 1, 1)
	listenOnce(t, st, st, "DeliveryRelease", func(st store.Store) {
		if err := st.DeliveryRelease(ctx, id, "w", t0); err != nil {
			t.Fatal(err)
		}
	})

	claim(t, st, "w", t0, 1, 1)
	record(t, st, "w", id, store.StatusFailed, t0, nil)
	listenOnce(t, st, st, "DeliveryRetry", func(st store.Store) {
		do(st.DeliveryRetry(ctx, "acme", id, t0)).must(t)
	})

	claim(t, st, "w", t0, 1, 1)
	later := t0.Add(time.Hour)
	record(t, st, "w", id, store.StatusRetrying, t0, &later)
	listenOnce(t, st, st, "DeliveryRetry of a retrying delivery", func(st store.Store) {
		do(st.DeliveryRetry(ctx, "acme", id, t0)).must(t)
	})

	claim(t, st, "w", t0, 1, 1)
	record(t, st, "w", id, store.StatusFailed, t0, nil)
	listenOnce(t, st, st, "ReplayStep", func(st store.Store) {
		r := mkReplay(t, st, "acme", ep.ID, t0.Add(-time.Hour), t0.Add(time.Hour), "w", t0)
		if got := step(t, st, r.ID, "w", t0, 10); got.Queued != 1 {
			t.Fatalf("replay queued %d, want the 1 failed delivery", got.Queued)
		}
	})

	ep.Enabled = false
	do(st.EndpointUpdate(ctx, ep)).must(t)
	listenOnce(t, st, st, "EndpointUpdate enabling", func(st store.Store) {
		ep.Enabled = true
		do(st.EndpointUpdate(ctx, ep)).must(t)
	})
}

func testListenCloses(t *testing.T, st store.Store) {
	ctx, cancel := context.WithCancel(ctxT(t))
	ch, err := st.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Listen channel still open 10s after its context ended")
		}
	}
}

// Closing the store ends its listeners even while their contexts live (and
// a second Close, as a deferred one would be, is harmless).
func testListenClosesWithStore(t *testing.T, st store.Store) {
	ch, err := st.Listen(ctxT(t))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				if err := st.Close(); err != nil {
					t.Errorf("second Close: %v, want nil", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("Listen channel still open 10s after the store closed")
		}
	}
}

func testListenAcrossNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	stores := open(t, 2, true)
	mkTenant(t, stores[0], "acme")
	mkEndpoint(t, stores[0], "acme")
	listenOnce(t, stores[1], stores[0], "EventCreate on another node", func(st store.Store) {
		mkEvent(t, st, "acme", "user.created", t0)
	})
}
