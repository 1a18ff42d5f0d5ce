package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// mkReplay creates a replay of the endpoint's failed deliveries in [since,
// until) at now, leased to owner for a minute unless owner is "".
func mkReplay(t *testing.T, st store.Store, tenantID, endpointID string, since, until time.Time, owner string, now time.Time) *store.Replay {
	t.Helper()
	return mkReplayOf(t, st, &store.Replay{
		TenantID: tenantID, EndpointID: endpointID, Since: since, Until: until,
		DeliveryStatus: store.StatusFailed,
	}, owner, now)
}

// mkReplayOf creates r at now, leased to owner for a minute unless owner
// is "".
func mkReplayOf(t *testing.T, st store.Store, r *store.Replay, owner string, now time.Time) *store.Replay {
	t.Helper()
	r.CreatedAt = now
	if owner != "" {
		r.LeaseOwner, r.LeaseExpiresAt = owner, ptr(now.Add(time.Minute))
	}
	return do(st.ReplayCreate(ctxT(t), r)).must(t)
}

// step runs one batch of limit deliveries of a replay leased to owner, at
// now, renewing the lease for a minute.
func step(t *testing.T, st store.Store, replayID, owner string, now time.Time, limit int) *store.Replay {
	t.Helper()
	return do(st.ReplayStep(ctxT(t), &store.ReplayStepParams{
		ID: replayID, Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit,
	})).must(t)
}

// settled stores an event of type typ for ep alone at at, and brings its
// one delivery to status (failed or delivered, with one attempt; or
// pending, untouched). It returns the delivery's id.
func settled(t *testing.T, st store.Store, ep *store.Endpoint, typ string, at time.Time, status string) string {
	t.Helper()
	p := &store.EventCreateParams{Event: newEvent(ep.TenantID, "", typ, "{}"), EndpointIDs: []string{ep.ID}, Now: at}
	if status != store.StatusPending {
		// Created leased, so exactly this delivery is recorded, whatever
		// else is due.
		p.LeaseOwner, p.LeaseUntil = "settle", at.Add(time.Hour)
	}
	d := do(st.EventCreate(ctxT(t), p)).must(t).Deliveries[0]
	if status != store.StatusPending {
		record(t, st, "settle", d.ID, status, at, nil)
	}
	return d.ID
}

func statusOf(t *testing.T, st store.Store, tenantID, deliveryID string) string {
	t.Helper()
	return do(st.DeliveryGet(ctxT(t), tenantID, deliveryID)).must(t).Status
}

func wantStatuses(t *testing.T, st store.Store, tenantID, what string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got := statusOf(t, st, tenantID, id); got != w {
			t.Errorf("%s: delivery %s is %s, want %s", what, id, got, w)
		}
	}
}

func wantReplay(t *testing.T, what string, r *store.Replay, status string, queued, scanned int) {
	t.Helper()
	if r.Status != status || r.Queued != queued || r.Scanned != scanned {
		t.Fatalf("%s: replay %s, queued %d, scanned %d; want %s, %d, %d", what, r.Status, r.Queued, r.Scanned, status, queued, scanned)
	}
	if (status == store.ReplayRunning) != (r.FinishedAt == nil) {
		t.Errorf("%s: status %s with finished_at %v", what, r.Status, r.FinishedAt)
	}
}

func testReplayWindowAndFilters(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep1 := mkEndpoint(t, st, "acme", filters("none"))
	ep2 := mkEndpoint(t, st, "acme", filters("none"))
	h := time.Hour
	before := settled(t, st, ep1, "user.created", t0, store.StatusFailed)
	inside := settled(t, st, ep1, "user.created", t0.Add(h), store.StatusFailed)
	insideOrder := settled(t, st, ep1, "order.paid", t0.Add(h), store.StatusFailed)
	delivered := settled(t, st, ep1, "user.created", t0.Add(h), store.StatusDelivered)
	atUntil := settled(t, st, ep1, "user.created", t0.Add(2*h), store.StatusFailed)
	otherEP := settled(t, st, ep2, "user.created", t0.Add(h), store.StatusFailed)
	pending := settled(t, st, ep1, "user.created", t0.Add(90*time.Minute), store.StatusPending)
	now := t0.Add(3 * h)

	r := mkReplayOf(t, st, &store.Replay{
		TenantID: "acme", EndpointID: ep1.ID, Since: t0.Add(h), Until: t0.Add(2 * h),
		DeliveryStatus: store.StatusFailed, EventType: "user.*",
	}, "w", now)
	if r.Status != store.ReplayRunning || !strings.HasPrefix(r.ID, "rpl_") || r.LeaseOwner != "w" || r.EventType != "user.*" {
		t.Fatalf("created replay %+v, want a running rpl_ replay leased to w with its filter", r)
	}
	sameTime(t, "Since", r.Since, us(t0.Add(h)))
	sameTime(t, "Until", r.Until, us(t0.Add(2*h)))
	sameTime(t, "PositionAt before the first batch", r.PositionAt, us(t0.Add(h)))
	sameTime(t, "CreatedAt", r.CreatedAt, us(now))
	got := step(t, st, r.ID, "w", now, 10)
	wantReplay(t, "user.* in the window", got, store.ReplayDone, 1, 2)
	if got.LeaseOwner != "" || got.LeaseExpiresAt != nil {
		t.Errorf("done replay still leased to %q until %v", got.LeaseOwner, got.LeaseExpiresAt)
	}
	sameTimePtr(t, "FinishedAt", got.FinishedAt, ptr(us(now)))
	if again := do(st.ReplayGet(ctx, "acme", r.ID)).must(t); again.Queued != 1 || again.Status != store.ReplayDone {
		t.Errorf("ReplayGet after the batch: %+v, want it done with 1 queued", again)
	}
	wantStatuses(t, st, "acme", "after replaying user.*", map[string]string{
		before: store.StatusFailed, inside: store.StatusPending, insideOrder: store.StatusFailed,
		delivered: store.StatusDelivered, atUntil: store.StatusFailed, otherEP: store.StatusFailed,
		pending: store.StatusPending,
	})
	d := do(st.DeliveryGet(ctx, "acme", inside)).must(t)
	if d.SeriesAttempts != 0 || d.Attempts != 1 {
		t.Errorf("replayed delivery %+v, want a new series with its 1 attempt kept", d)
	}
	sameTimePtr(t, "replayed NextAttemptAt", d.NextAttemptAt, ptr(us(now)))

	// Every type in the same window: the order is left, the user event is
	// queued already.
	r = mkReplay(t, st, "acme", ep1.ID, t0.Add(h), t0.Add(2*h), "w", now)
	wantReplay(t, "every type in the window", step(t, st, r.ID, "w", now, 10), store.ReplayDone, 1, 1)
	// From the start, with no end in sight.
	r = mkReplay(t, st, "acme", ep1.ID, t0, t0.Add(100*h), "w", now)
	wantReplay(t, "everything failed", step(t, st, r.ID, "w", now, 10), store.ReplayDone, 2, 2)
	wantStatuses(t, st, "acme", "after replaying everything", map[string]string{
		before: store.StatusPending, atUntil: store.StatusPending, otherEP: store.StatusFailed, delivered: store.StatusDelivered,
	})
	// An empty window is done at its first batch.
	r = mkReplay(t, st, "acme", ep2.ID, now, now.Add(h), "w", now)
	wantReplay(t, "an empty window", step(t, st, r.ID, "w", now, 10), store.ReplayDone, 0, 0)

	_, err := st.ReplayCreate(ctx, &store.Replay{TenantID: "acme", EndpointID: "ep_missing", Since: t0, Until: now, DeliveryStatus: store.StatusFailed})
	wantErr(t, err, store.ErrNotFound, "replaying a missing endpoint")
	if _, err := st.ReplayCreate(ctx, &store.Replay{TenantID: "acme", EndpointID: ep1.ID, Since: t0, Until: now, DeliveryStatus: store.StatusPending}); err == nil {
		t.Error("a replay of pending deliveries was stored, want it refused")
	}
	_, err = st.ReplayGet(ctx, "acme", "rpl_missing")
	wantErr(t, err, store.ErrNotFound, "getting a missing replay")
}

// A replay walks its window in batches, oldest first, each batch taking up
// where the last stopped, even between deliveries made at the same moment;
// whoever holds the lease runs it, and a delivery it queued that fails
// again meanwhile is not queued twice.
func testReplayBatchesResume(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	at := []time.Duration{0, 1, 2, 2, 3, 4, 5} // minutes; two at 2, the batch boundary between them
	var ids []string
	for _, m := range at {
		ids = append(ids, settled(t, st, ep, "x", t0.Add(m*time.Minute), store.StatusFailed))
	}
	// The walk's order: by creation time, then id. Ids made at one moment
	// in one process ascend, but not when other tests make ids between
	// them: the two at 2 minutes go by their ids.
	if ids[3] < ids[2] {
		ids[2], ids[3] = ids[3], ids[2]
	}
	now := t0.Add(time.Hour)
	r := mkReplay(t, st, "acme", ep.ID, t0, now, "a", now)

	got := step(t, st, r.ID, "a", now, 3)
	wantReplay(t, "first batch", got, store.ReplayRunning, 3, 3)
	if got.PositionID != ids[2] {
		t.Errorf("position after the first batch %s, want the third delivery %s", got.PositionID, ids[2])
	}
	sameTime(t, "PositionAt after the first batch", got.PositionAt, us(t0.Add(2*time.Minute)))
	wantStatuses(t, st, "acme", "after the first batch", map[string]string{
		ids[0]: store.StatusPending, ids[1]: store.StatusPending, ids[2]: store.StatusPending, ids[3]: store.StatusFailed,
	})
	// The three are sent, and fail again (one at a time, should the
	// endpoint's failures in a row reach store.OneAtATimeAfter).
	sent := 0
	for cs := claim(t, st, "w", now, 10, 10); len(cs) > 0; cs = claim(t, st, "w", now, 10, 10) {
		for _, c := range cs {
			record(t, st, "w", c.Delivery.ID, store.StatusFailed, now, nil)
			sent++
		}
	}
	if sent != 3 {
		t.Fatalf("sent %d of the replayed deliveries, want 3", sent)
	}

	// Another node cannot run it, nor take it while a's lease lasts.
	_, err := st.ReplayStep(ctx, &store.ReplayStepParams{ID: r.ID, Owner: "b", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 3})
	wantErr(t, err, store.ErrLeaseLost, "a batch by a node that does not hold the replay")
	_, err = st.ReplayClaim(ctx, "b", now.Add(30*time.Second), now.Add(90*time.Second))
	wantErr(t, err, store.ErrNotFound, "claiming a replay whose lease runs")
	// a stops (a restart); its lease runs out and b takes over where it
	// stopped.
	later := now.Add(2 * time.Minute)
	c := do(st.ReplayClaim(ctx, "b", later, later.Add(time.Minute))).must(t)
	if c.ID != r.ID || c.LeaseOwner != "b" || c.PositionID != ids[2] {
		t.Fatalf("claimed %+v, want %s at its position %s leased to b", c, r.ID, ids[2])
	}
	_, err = st.ReplayStep(ctx, &store.ReplayStepParams{ID: r.ID, Owner: "a", Now: later, LeaseUntil: later.Add(time.Minute), Limit: 3})
	wantErr(t, err, store.ErrLeaseLost, "a batch by the node whose lease was taken")
	wantReplay(t, "second batch", step(t, st, r.ID, "b", later, 3), store.ReplayRunning, 6, 6)
	got = step(t, st, r.ID, "b", later, 3)
	wantReplay(t, "last batch", got, store.ReplayDone, 7, 7)
	want := map[string]string{}
	for i, id := range ids {
		want[id] = store.StatusPending
		if i < 3 {
			want[id] = store.StatusFailed // queued once, failed again, not queued twice
		}
	}
	wantStatuses(t, st, "acme", "after the replay", want)
	_, err = st.ReplayStep(ctx, &store.ReplayStepParams{ID: r.ID, Owner: "b", Now: later, LeaseUntil: later.Add(time.Minute), Limit: 3})
	wantErr(t, err, store.ErrLeaseLost, "a batch of a replay that is done")
	_, err = st.ReplayStep(ctx, &store.ReplayStepParams{ID: "rpl_missing", Owner: "b", Now: later, LeaseUntil: later.Add(time.Minute), Limit: 3})
	wantErr(t, err, store.ErrNotFound, "a batch of a missing replay")
	_, err = st.ReplayClaim(ctx, "b", later.Add(time.Hour), later.Add(2*time.Hour))
	wantErr(t, err, store.ErrNotFound, "claiming when every replay is done")
}

// A delivery that was retried and succeeded between the replay's start
// and its batch is not sent again, nor is one that is being retried.
func testReplayNeverResendsSucceeded(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	var ids []string
	for i := range 4 {
		ids = append(ids, settled(t, st, ep, "x", t0.Add(time.Duration(i)*time.Minute), store.StatusFailed))
	}
	now := t0.Add(time.Hour)
	r := mkReplay(t, st, "acme", ep.ID, t0, now, "a", now)

	do(st.DeliveryRetry(ctx, "acme", ids[1], now)).must(t)
	cs := claim(t, st, "w", now, 1, 1)
	wantIDs(t, "claimed retry", deliveryIDs(cs), []string{ids[1]})
	record(t, st, "w", ids[1], store.StatusDelivered, now, nil)
	do(st.DeliveryRetry(ctx, "acme", ids[2], now)).must(t) // pending, not yet sent

	wantReplay(t, "the replay", step(t, st, r.ID, "a", now.Add(time.Second), 10), store.ReplayDone, 2, 2)
	wantStatuses(t, st, "acme", "after the replay", map[string]string{
		ids[0]: store.StatusPending, ids[1]: store.StatusDelivered, ids[2]: store.StatusPending, ids[3]: store.StatusPending,
	})
	if d := do(st.DeliveryGet(ctx, "acme", ids[1])).must(t); d.Attempts != 2 || d.NextAttemptAt != nil {
		t.Errorf("the delivery that succeeded: %d attempts, next %v; want its 2 and nothing due", d.Attempts, d.NextAttemptAt)
	}
	// The one being retried keeps the retry's due time.
	if d := do(st.DeliveryGet(ctx, "acme", ids[2])).must(t); d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(us(now)) {
		t.Errorf("the delivery being retried is due at %v, want the retry's %v", d.NextAttemptAt, us(now))
	}
}

func testReplayDelivered(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	ok1 := settled(t, st, ep, "x", t0, store.StatusDelivered)
	bad := settled(t, st, ep, "x", t0.Add(time.Second), store.StatusFailed)
	ok2 := settled(t, st, ep, "y", t0.Add(2*time.Second), store.StatusDelivered)
	now := t0.Add(time.Hour)
	r := mkReplayOf(t, st, &store.Replay{
		TenantID: "acme", EndpointID: ep.ID, Since: t0, Until: now, DeliveryStatus: store.StatusDelivered, EventType: "x",
	}, "a", now)
	wantReplay(t, "delivered x", step(t, st, r.ID, "a", now, 10), store.ReplayDone, 1, 2)
	wantStatuses(t, st, "acme", "after replaying delivered x", map[string]string{
		ok1: store.StatusPending, bad: store.StatusFailed, ok2: store.StatusDelivered,
	})
}

func testReplayLease(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	_, err := st.ReplayClaim(ctx, "a", t0, t0.Add(time.Minute))
	wantErr(t, err, store.ErrNotFound, "claiming with no replay")
	older := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "", t0)
	newer := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "", t0.Add(time.Second))
	now := t0.Add(time.Minute)

	got := do(st.ReplayClaim(ctx, "a", now, now.Add(time.Minute))).must(t)
	if got.ID != older.ID || got.LeaseOwner != "a" {
		t.Fatalf("first claim %s leased to %q, want the older %s leased to a", got.ID, got.LeaseOwner, older.ID)
	}
	sameTimePtr(t, "lease", got.LeaseExpiresAt, ptr(us(now.Add(time.Minute))))
	if got := do(st.ReplayClaim(ctx, "b", now, now.Add(time.Minute))).must(t); got.ID != newer.ID {
		t.Fatalf("b claimed %s, want the newer %s: the older is a's", got.ID, newer.ID)
	}
	_, err = st.ReplayClaim(ctx, "c", now, now.Add(time.Minute))
	wantErr(t, err, store.ErrNotFound, "claiming when both are held")
	// A node claims again what it holds (after its own restart of the
	// loop), renewing the lease.
	if got := do(st.ReplayClaim(ctx, "a", now.Add(10*time.Second), now.Add(2*time.Minute))).must(t); got.ID != older.ID {
		t.Fatalf("a claimed %s again, want its own %s", got.ID, older.ID)
	}
	// At b's expiry c takes b's replay, and a's stays a's.
	got = do(st.ReplayClaim(ctx, "c", now.Add(time.Minute), now.Add(2*time.Minute))).must(t)
	if got.ID != newer.ID || got.LeaseOwner != "c" {
		t.Fatalf("c claimed %s leased to %q, want %s: b's lease ran out", got.ID, got.LeaseOwner, newer.ID)
	}
	if _, err := st.ReplayClaim(ctx, "", now, now.Add(time.Minute)); err == nil {
		t.Error("a claim with no owner succeeded")
	}
	if _, err := st.ReplayStep(ctx, &store.ReplayStepParams{ID: older.ID, Owner: "a"}); err == nil {
		t.Error("a batch with no lease and no limit ran")
	}
}

func testReplayEndpointDeleted(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	settled(t, st, ep, "x", t0, store.StatusFailed)
	r := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "a", t0.Add(time.Hour))
	if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
	got := step(t, st, r.ID, "a", t0.Add(time.Hour), 10)
	wantReplay(t, "replay of a deleted endpoint", got, store.ReplayFailed, 0, 0)
	if !strings.Contains(got.Error, ep.ID) || !strings.Contains(got.Error, "deleted") {
		t.Errorf("error %q, want it to say that %s was deleted", got.Error, ep.ID)
	}
	if got := do(st.ReplayGet(ctx, "acme", r.ID)).must(t); got.Status != store.ReplayFailed {
		t.Errorf("ReplayGet: %s, want failed", got.Status)
	}
}

func testReplayListPages(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	ep1 := mkEndpoint(t, st, "acme", filters("none"))
	ep2 := mkEndpoint(t, st, "acme", filters("none"))
	epO := mkEndpoint(t, st, "other", filters("none"))
	var all, of1 []string
	for i := range 5 {
		ep := ep1
		if i%2 == 1 {
			ep = ep2
		}
		r := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "", t0.Add(time.Duration(i)*time.Second))
		all = append([]string{r.ID}, all...)
		if ep == ep1 {
			of1 = append([]string{r.ID}, of1...)
		}
	}
	mkReplay(t, st, "other", epO.ID, t0, t0.Add(time.Hour), "", t0)
	id := func(r *store.Replay) string { return r.ID }
	got, pages := walk(t, 2, func(c string) ([]*store.Replay, error) {
		return st.ReplayList(ctx, "acme", &store.ReplayListParams{ListParams: store.ListParams{Limit: 2, Cursor: c}})
	})
	wantIDs(t, "acme's replays, newest first", ids(got, id), all)
	if pages != 3 {
		t.Errorf("%d pages of 2 for 5 replays, want 3", pages)
	}
	got, _ = walk(t, 2, func(c string) ([]*store.Replay, error) {
		return st.ReplayList(ctx, "acme", &store.ReplayListParams{ListParams: store.ListParams{Limit: 2, Cursor: c}, EndpointID: ep1.ID})
	})
	wantIDs(t, "the replays of ep1", ids(got, id), of1)
	_, err := st.ReplayList(ctx, "acme", &store.ReplayListParams{ListParams: store.ListParams{Cursor: "bogus"}})
	wantBadCursor(t, "ReplayList", err)
}

func testReplayDeleteFinished(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	old := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "a", t0)
	step(t, st, old.ID, "a", t0, 10) // done at t0
	recent := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "a", t0)
	step(t, st, recent.ID, "a", t0.Add(2*time.Hour), 10) // done later
	running := mkReplay(t, st, "acme", ep.ID, t0, t0.Add(time.Hour), "", t0)

	if n := do(st.ReplayDeleteFinished(ctx, t0.Add(time.Hour), 100)).must(t); n != 1 {
		t.Errorf("deleted %d replays, want the 1 that finished before the cutoff", n)
	}
	_, err := st.ReplayGet(ctx, "acme", old.ID)
	wantErr(t, err, store.ErrNotFound, "the old finished replay")
	do(st.ReplayGet(ctx, "acme", recent.ID)).must(t)
	do(st.ReplayGet(ctx, "acme", running.ID)).must(t)
	if n := do(st.ReplayDeleteFinished(ctx, t0.Add(100*time.Hour), 100)).must(t); n != 1 {
		t.Errorf("deleted %d replays later on, want the 1 other finished one, never the running one", n)
	}
}

// Of several nodes claiming at once, exactly one gets the replay.
func testReplayClaimAcrossNodes(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	const n = 4
	stores := open(t, n, true)
	ctx := ctxT(t)
	mkTenant(t, stores[0], "acme")
	ep := mkEndpoint(t, stores[0], "acme", filters("none"))
	mkReplay(t, stores[0], "acme", ep.ID, t0, t0.Add(time.Hour), "", t0)
	var wg sync.WaitGroup
	got := make([]error, n)
	for i, s := range stores {
		wg.Go(func() {
			_, got[i] = s.ReplayClaim(ctx, tenantName(i), t0, t0.Add(time.Minute))
		})
	}
	wg.Wait()
	won := 0
	for i, err := range got {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("node %d: %v, want the replay or ErrNotFound", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d nodes claimed the one replay, want exactly 1", won)
	}
}
