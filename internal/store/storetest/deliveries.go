package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func testDeliveryGetList(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	ep1 := mkEndpoint(t, st, "acme")
	ep2 := mkEndpoint(t, st, "acme")
	mkEndpoint(t, st, "other")
	var all []*store.Delivery
	var events []string
	for i := range 3 {
		res := mkEvent(t, st, "acme", "user.created", t0.Add(time.Duration(i)*time.Second))
		all = append(all, res.Deliveries...)
		events = append(events, res.Event.ID)
	}
	mkEvent(t, st, "other", "user.created", t0)
	// Fail what ep1 got at t0, deliver the rest that was due then.
	for _, c := range claim(t, st, "w", t0, 10, 10) {
		status := store.StatusDelivered
		if c.Delivery.EndpointID == ep1.ID {
			status = store.StatusFailed
		}
		record(t, st, "w", c.Delivery.ID, status, t0, nil)
	}
	cur := map[string]*store.Delivery{}
	for _, d := range all {
		cur[d.ID] = do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
	}
	newestFirst := func(keep func(d *store.Delivery) bool) []string {
		var ds []*store.Delivery
		for _, d := range cur {
			if keep(d) {
				ds = append(ds, d)
			}
		}
		slices.SortFunc(ds, func(a, b *store.Delivery) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
		})
		return ids(ds, func(d *store.Delivery) string { return d.ID })
	}

	for _, tc := range []struct {
		name string
		p    store.DeliveryListParams
		keep func(d *store.Delivery) bool
	}{
		{"all", store.DeliveryListParams{}, func(*store.Delivery) bool { return true }},
		{"failed", store.DeliveryListParams{Status: store.StatusFailed}, func(d *store.Delivery) bool { return d.Status == store.StatusFailed }},
		{"pending", store.DeliveryListParams{Status: store.StatusPending}, func(d *store.Delivery) bool { return d.Status == store.StatusPending }},
		{"ep2", store.DeliveryListParams{EndpointID: ep2.ID}, func(d *store.Delivery) bool { return d.EndpointID == ep2.ID }},
		{"event 1", store.DeliveryListParams{EventID: events[1]}, func(d *store.Delivery) bool { return d.EventID == events[1] }},
		{"ep1 pending of event 2", store.DeliveryListParams{EndpointID: ep1.ID, Status: store.StatusPending, EventID: events[2]},
			func(d *store.Delivery) bool {
				return d.EndpointID == ep1.ID && d.Status == store.StatusPending && d.EventID == events[2]
			}},
	} {
		want := newestFirst(tc.keep)
		if len(want) == 0 {
			t.Fatalf("%s: the fixture has no such delivery", tc.name)
		}
		got, _ := walk(t, 2, func(c string) ([]*store.Delivery, error) {
			p := tc.p
			p.Limit, p.Cursor = 2, c
			return st.DeliveryList(ctx, "acme", &p)
		})
		wantIDs(t, "deliveries "+tc.name, ids(got, func(d *store.Delivery) string { return d.ID }), want)
		for _, d := range got {
			if d.Status != cur[d.ID].Status || d.Attempts != cur[d.ID].Attempts {
				t.Errorf("listed %+v, want as DeliveryGet has it %+v", d, cur[d.ID])
			}
		}
	}
	_, err := st.DeliveryList(ctx, "acme", &store.DeliveryListParams{ListParams: store.ListParams{Cursor: "AQAAAAAAAAAA"}})
	wantBadCursor(t, "DeliveryList", err)

	d := all[0]
	byID := do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
	if byID.ID != d.ID || byID.TenantID != "acme" || byID.EventType != "user.created" {
		t.Errorf("DeliveryGet = %+v", byID)
	}
	_, err = st.DeliveryGet(ctx, "acme", "dlv_missing")
	wantErr(t, err, store.ErrNotFound, "DeliveryGet of a missing delivery")
	if atts := do(st.DeliveryAttempts(ctx, "dlv_missing")).must(t); len(atts) != 0 {
		t.Errorf("attempts of a missing delivery: %v, want none", atts)
	}
}

// testClaimEachItsEndpoint claims, at once, deliveries of three endpoints
// of two tenants, each with its own URL, secret, headers and format: every
// claimed delivery carries its own endpoint, secrets opened, read once per
// claim rather than once per delivery (sqlstore.Store.Claim).
func testClaimEachItsEndpoint(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	eps := map[string]*store.Endpoint{}
	for i, tenant := range []string{"acme", "acme", "globex"} {
		ep := mkEndpoint(t, st, tenant, func(e *store.Endpoint) {
			e.URL = fmt.Sprintf("https://example.com/hook/%d", i)
			e.Secret = fmt.Sprintf("whsec_endpoint%d", i)
			e.Headers = map[string]string{"X-Endpoint": strconv.Itoa(i)}
			if i == 1 {
				e.Format = "custom-1"
			}
		})
		eps[ep.ID] = ep
	}
	want := map[string]string{} // delivery id -> its endpoint
	for i := range 3 {
		for _, tenant := range []string{"acme", "globex"} {
			for _, d := range mkEvent(t, st, tenant, "user.created", t0.Add(time.Duration(i)*time.Millisecond)).Deliveries {
				want[d.ID] = d.EndpointID
			}
		}
	}
	if len(want) != 9 {
		t.Fatalf("made %d deliveries, want 9 (3 events to 2 endpoints of acme, 3 to 1 of globex)", len(want))
	}
	got := claim(t, st, "w", t0.Add(time.Second), 20, 10)
	if len(got) != len(want) {
		t.Fatalf("claimed %d deliveries, want all %d", len(got), len(want))
	}
	for _, c := range got {
		epID, ok := want[c.Delivery.ID]
		if !ok || c.Endpoint == nil || c.Endpoint.ID != epID || c.Delivery.EndpointID != epID {
			t.Fatalf("claimed %s with endpoint %+v, want its own %s", c.Delivery.ID, c.Endpoint, epID)
		}
		sameEndpoint(t, "claimed Endpoint of "+c.Delivery.ID, c.Endpoint, eps[epID])
	}
}

func testClaimBasic(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", func(e *store.Endpoint) {
		e.Headers = map[string]string{"X-A": "1"}
		e.Format = "custom-1"
	})
	ev := mkEvent(t, st, "acme", "user.created", t0)

	if got := claim(t, st, "w", t0.Add(-time.Microsecond), 10, 10); len(got) != 0 {
		t.Fatalf("claimed %v before it was due", deliveryIDs(got))
	}
	got := claim(t, st, "w", t0, 10, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d deliveries, want the 1 due", len(got))
	}
	c := got[0]
	if c.Delivery.ID != ev.Deliveries[0].ID || c.Delivery.Status != store.StatusDelivering ||
		c.Delivery.Attempts != 0 || c.Delivery.NextAttemptAt != nil {
		t.Errorf("claimed delivery %+v, want %s delivering, no attempts, no next attempt", c.Delivery, ev.Deliveries[0].ID)
	}
	if c.Event.ID != ev.Event.ID || c.Event.Type != "user.created" || string(c.Event.Data) != `{"n":1}` || c.Event.TraceID == "" {
		t.Errorf("claimed Event %+v, want the event", c.Event)
	}
	sameEndpoint(t, "claimed Endpoint", c.Endpoint, ep)
	if c.Body != nil {
		t.Errorf("Body before any attempt = %q, want nil", c.Body)
	}
	sameTime(t, "LeaseUntil", c.LeaseUntil, us(t0.Add(time.Minute)))

	d := do(st.DeliveryGet(ctx, "acme", c.Delivery.ID)).must(t)
	if d.Status != store.StatusDelivering || d.NextAttemptAt != nil {
		t.Errorf("stored delivery after claim %+v, want delivering with no next attempt", d)
	}
	if again := claim(t, st, "w2", t0.Add(time.Second), 10, 10); len(again) != 0 {
		t.Errorf("a second claim took %v, leased already", deliveryIDs(again))
	}
}

func testClaimOldestFirstAndLimit(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	var eps []*store.Endpoint
	for range 3 {
		eps = append(eps, mkEndpoint(t, st, "acme", filters("none")))
	}
	send := func(ep *store.Endpoint, at time.Time) string {
		res := do(st.EventCreate(ctx, &store.EventCreateParams{
			Event: newEvent("acme", "", "x", "{}"), EndpointIDs: []string{ep.ID}, Now: at,
		})).must(t)
		return res.Deliveries[0].ID
	}
	third := send(eps[0], t0.Add(3*time.Second))
	first := send(eps[1], t0.Add(1*time.Second))
	second := send(eps[2], t0.Add(2*time.Second))
	send(eps[0], t0.Add(time.Hour)) // not due

	got := claim(t, st, "w", t0.Add(10*time.Second), 2, 10)
	wantIDs(t, "first claim, oldest due first, limit 2", deliveryIDs(got), []string{first, second})
	got = claim(t, st, "w", t0.Add(10*time.Second), 2, 10)
	wantIDs(t, "second claim", deliveryIDs(got), []string{third})
}

func testClaimCapsPerEndpoint(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	a := mkEndpoint(t, st, "acme", filters("a"))
	b := mkEndpoint(t, st, "acme", filters("b"))
	for i := range 5 {
		mkEvent(t, st, "acme", "a", t0.Add(time.Duration(i)*time.Millisecond))
	}
	mkEvent(t, st, "acme", "b", t0)
	now := t0.Add(time.Second)

	got := claim(t, st, "w1", now, 10, 2)
	if n := countBy(got, byEndpoint); n[a.ID] != 2 || n[b.ID] != 1 {
		t.Fatalf("claim with cap 2: %v per endpoint, want 2 of a's and b's 1", n)
	}
	// The leases w1 holds count against the cap for every claimer.
	if more := claim(t, st, "w2", now, 10, 2); len(more) != 0 {
		t.Fatalf("claim with a's cap full: got %v, want nothing", countBy(more, byEndpoint))
	}
	if more := claim(t, st, "w2", now, 10, 3); len(more) != 1 || more[0].Delivery.EndpointID != a.ID {
		t.Fatalf("claim with cap 3 and 2 leases held: got %v, want 1 of a's", countBy(more, byEndpoint))
	}
	// Recording frees a slot.
	for _, c := range got {
		if c.Delivery.EndpointID == a.ID {
			record(t, st, "w1", c.Delivery.ID, store.StatusDelivered, now, nil)
			break
		}
	}
	if more := claim(t, st, "w2", now, 10, 3); len(more) != 1 || more[0].Delivery.EndpointID != a.ID {
		t.Fatalf("claim after one attempt was recorded: got %v, want 1 more of a's", countBy(more, byEndpoint))
	}
	// Expired leases stop counting: at now+lease all three of a's in-flight
	// leases have run out, and only the cap limits the new claim.
	later := now.Add(time.Minute)
	if more := claim(t, st, "w3", later, 10, 2); countBy(more, byEndpoint)[a.ID] != 2 {
		t.Fatalf("claim once every lease expired: got %v, want 2 of a's (the cap)", countBy(more, byEndpoint))
	}
}

func testClaimBacklogDoesNotStarve(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	busy := mkEndpoint(t, st, "acme", filters("busy"))
	quiet := mkEndpoint(t, st, "acme", filters("quiet"))
	// A backlog of 500 older deliveries at one endpoint...
	for i := range 500 {
		do(st.EventCreate(ctx, &store.EventCreateParams{
			Event: newEvent("acme", "", "busy", "{}"), Now: t0.Add(time.Duration(i) * time.Millisecond),
		})).must(t)
	}
	// ...must not hide one newer delivery at another.
	want := mkEvent(t, st, "acme", "quiet", t0.Add(time.Hour)).Deliveries[0].ID
	now := t0.Add(2 * time.Hour)
	got := claim(t, st, "w", now, 10, 3)
	n := countBy(got, byEndpoint)
	if n[busy.ID] != 3 || n[quiet.ID] != 1 {
		t.Fatalf("claim of 10 with cap 3: %v per endpoint, want 3 of the backlog and the quiet endpoint's 1", n)
	}
	if !slices.Contains(deliveryIDs(got), want) {
		t.Errorf("claim did not take the quiet endpoint's delivery %s", want)
	}
	// The backlog's oldest go first.
	if got[0].Delivery.EndpointID != busy.ID {
		t.Errorf("first claimed is %s's, want the oldest, the backlog's", got[0].Delivery.EndpointID)
	}
}

// Tenants take turns in a claim, and none holds more leases than its
// share: one tenant's older backlog over many endpoints does not take the
// whole limit from a tenant with newer work.
func testClaimSharesTenants(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "hog")
	mkTenant(t, st, "quiet")
	for range 3 {
		mkEndpoint(t, st, "hog", filters("x"))
	}
	mkEndpoint(t, st, "quiet", filters("x"))
	for i := range 5 {
		mkEvent(t, st, "hog", "x", t0.Add(time.Duration(i)*time.Millisecond)) // 3 deliveries each
	}
	mkEvent(t, st, "quiet", "x", t0.Add(time.Hour))
	mkEvent(t, st, "quiet", "x", t0.Add(time.Hour+time.Millisecond))
	now := t0.Add(2 * time.Hour)
	claimShared := func(owner string, limit, perTenant int) []*store.Claimed {
		return do(st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
			Owner: owner, Now: now, Lease: time.Minute, Limit: limit, PerEndpoint: 10, PerTenant: perTenant,
		})).must(t)
	}

	// No share set: still each tenant's first, then each one's second.
	got := claimShared("w1", 4, 0)
	if n := countBy(got, byTenant); n["hog"] != 2 || n["quiet"] != 2 {
		t.Fatalf("claim of 4: %v per tenant, want 2 each (turns), though all of hog's are older", n)
	}
	if got[0].Delivery.TenantID != "hog" || got[1].Delivery.TenantID != "quiet" {
		t.Errorf("first two claimed are %s's and %s's, want each tenant's first (hog's oldest, then quiet's)",
			got[0].Delivery.TenantID, got[1].Delivery.TenantID)
	}
	// A share of 6: hog holds 2 leases, so 4 more; quiet has nothing due.
	got = claimShared("w2", 100, 6)
	if n := countBy(got, byTenant); n["hog"] != 4 || len(got) != 4 {
		t.Fatalf("claim with a share of 6: %v per tenant, want 4 of hog's", n)
	}
	if more := claimShared("w3", 100, 6); len(more) != 0 {
		t.Fatalf("claim with hog's share full: got %v, want nothing", countBy(more, byTenant))
	}
	// Without the share the rest is there to take.
	if more := claimShared("w3", 100, 0); len(more) != 15-6 {
		t.Fatalf("claim without a share: got %d, want hog's other %d", len(more), 15-6)
	}
}

// Claims give a rate-limited endpoint's deliveries their turns, spaced by
// one over the rate and carried on by every claimer (another node
// included); a delivery whose turn is more than a second ahead stays in
// the table, due at its turn.
func testClaimRateLimitTurns(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme", filters("x"), func(e *store.Endpoint) { e.RateLimit = 2 })
	for i := range 5 {
		mkEvent(t, st, "acme", "x", t0.Add(time.Duration(i)*time.Millisecond))
	}
	now := store.Timestamp(t0.Add(time.Minute))
	got := claim(t, st, "w1", now, 10, 10)
	if len(got) != 3 {
		t.Fatalf("claimed %d, want the 3 whose turns are within a second (now, +0.5s, +1s)", len(got))
	}
	for i, c := range got {
		want := now.Add(time.Duration(i) * 500 * time.Millisecond)
		if i == 0 {
			want = time.Time{} // at once
		}
		if !c.NotBefore.Equal(want) {
			t.Errorf("claimed #%d: turn %v, want %v", i, c.NotBefore, want)
		}
	}
	// The other two wait in the table for their turns: not due now.
	if more := claim(t, st, "w2", now, 10, 10); len(more) != 0 {
		t.Fatalf("another node claimed %d at once, want none: their turns are 1.5s and 2s away", len(more))
	}
	at := now.Add(1500 * time.Millisecond)
	more := claim(t, st, "w2", at, 10, 10)
	if len(more) != 1 || !more[0].NotBefore.IsZero() {
		t.Fatalf("another node at +1.5s claimed %+v, want one, at once (its turn)", more)
	}
	// A test send takes the next turn, after the claims'.
	turn := do(st.EndpointTakeTurn(ctx, got[0].Endpoint.ID, at)).must(t)
	if want := now.Add(2 * time.Second); !turn.Equal(want) {
		t.Errorf("test send's turn %v, want %v, after the claims'", turn, want)
	}
}

func testClaimSkipsDisabled(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	ev := mkEvent(t, st, "acme", "user.created", t0)
	ep.Enabled = false
	do(st.EndpointUpdate(ctx, ep)).must(t)
	if got := claim(t, st, "w", t0.Add(time.Hour), 10, 10); len(got) != 0 {
		t.Fatalf("claimed %v at a disabled endpoint", deliveryIDs(got))
	}
	_, err := st.DeliveryNextDue(ctx)
	wantErr(t, err, store.ErrNotFound, "NextDue with only a disabled endpoint's delivery")

	ep.Enabled = true
	do(st.EndpointUpdate(ctx, ep)).must(t)
	got := claim(t, st, "w", t0.Add(time.Hour), 10, 10)
	wantIDs(t, "claimed once re-enabled", deliveryIDs(got), []string{ev.Deliveries[0].ID})
}

func testClaimExpiredLease(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID

	wantIDs(t, "w1's claim", deliveryIDs(claim(t, st, "w1", t0, 10, 10)), []string{id})
	if got := claim(t, st, "w2", t0.Add(59*time.Second), 10, 10); len(got) != 0 {
		t.Fatalf("w2 claimed %v while w1's lease runs", deliveryIDs(got))
	}
	next := do(st.DeliveryNextDue(ctx)).must(t)
	sameTime(t, "NextDue while leased (the lease expiry)", next, us(t0.Add(time.Minute)))

	got := claim(t, st, "w2", t0.Add(time.Minute), 10, 10)
	wantIDs(t, "w2's claim once the lease expired", deliveryIDs(got), []string{id})
	sameTime(t, "w2's LeaseUntil", got[0].LeaseUntil, us(t0.Add(2*time.Minute)))

	_, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
		DeliveryID: id, Owner: "w1", Status: store.StatusDelivered, Now: t0.Add(time.Minute),
		Attempt: &store.Attempt{StartedAt: t0, ResponseCode: 200},
	})
	wantErr(t, err, store.ErrLeaseLost, "w1 recording after losing the lease")
	att := record(t, st, "w2", id, store.StatusDelivered, t0.Add(time.Minute), nil)
	if att.Number != 1 {
		t.Errorf("w2's attempt number %d, want 1 (w1's late attempt was not recorded)", att.Number)
	}
}

func testClaimBadParams(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	good := store.DeliveryClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 1, PerEndpoint: 1}
	for name, mod := range map[string]func(p *store.DeliveryClaimParams){
		"no owner":   func(p *store.DeliveryClaimParams) { p.Owner = "" },
		"no lease":   func(p *store.DeliveryClaimParams) { p.Lease = 0 },
		"no limit":   func(p *store.DeliveryClaimParams) { p.Limit = 0 },
		"no per-cap": func(p *store.DeliveryClaimParams) { p.PerEndpoint = 0 },
	} {
		p := good
		mod(&p)
		if _, err := st.DeliveryClaimDue(ctx, &p); err == nil {
			t.Errorf("claim with %s: no error, want one", name)
		}
	}
	if _, err := st.DeliveryClaimDue(ctx, &good); err != nil {
		t.Errorf("claim with good params on an empty store: %v", err)
	}
}

func testRecordAttempt(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	claim(t, st, "w", t0, 1, 1)

	retryAt := t0.Add(10 * time.Second)
	a1 := do(st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
		DeliveryID: id, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: &retryAt, Now: t0.Add(time.Second),
		Attempt: &store.Attempt{StartedAt: t0, DurationMS: 1500, ResponseCode: 503, ResponseBody: "busy \x00\xff", Error: "status 503"},
	})).must(t)
	if !strings.HasPrefix(a1.ID, "att_") || a1.DeliveryID != id || a1.Number != 1 {
		t.Errorf("first attempt %+v, want an att_ id, this delivery, number 1", a1)
	}
	d := do(st.DeliveryGet(ctx, "acme", id)).must(t)
	if d.Status != store.StatusRetrying || d.Attempts != 1 || d.SeriesAttempts != 1 || d.LastStatusCode != 503 || d.LastError != "status 503" {
		t.Errorf("after a retrying attempt: %+v, want retrying, 1 attempt, last 503 with its error", d)
	}
	sameTimePtr(t, "NextAttemptAt", d.NextAttemptAt, ptr(us(retryAt)))
	sameTime(t, "UpdatedAt", d.UpdatedAt, us(t0.Add(time.Second)))

	if got := claim(t, st, "w", retryAt.Add(-time.Microsecond), 1, 1); len(got) != 0 {
		t.Fatalf("claimed a retry before its time: %v", deliveryIDs(got))
	}
	got := claim(t, st, "w", retryAt, 1, 1)
	if len(got) != 1 || got[0].Delivery.Attempts != 1 || got[0].Delivery.SeriesAttempts != 1 {
		t.Fatalf("claim at the retry time: %v, want the delivery with its 1 attempt", got)
	}
	a2 := do(st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
		DeliveryID: id, Owner: "w", Status: store.StatusFailed, Now: retryAt,
		Attempt: &store.Attempt{StartedAt: retryAt, DurationMS: 30000, Error: "timeout"},
	})).must(t)
	if a2.Number != 2 {
		t.Errorf("second attempt number %d, want 2", a2.Number)
	}
	d = do(st.DeliveryGet(ctx, "acme", id)).must(t)
	if d.Status != store.StatusFailed || d.Attempts != 2 || d.NextAttemptAt != nil || d.LastStatusCode != 0 || d.LastError != "timeout" {
		t.Errorf("after a failed attempt: %+v, want failed, 2 attempts, no next attempt, no code, the error", d)
	}
	if got := claim(t, st, "w", retryAt.Add(time.Hour), 1, 1); len(got) != 0 {
		t.Errorf("claimed a failed delivery: %v", deliveryIDs(got))
	}

	atts := do(st.DeliveryAttempts(ctx, id)).must(t)
	if len(atts) != 2 {
		t.Fatalf("DeliveryAttempts: %d, want 2", len(atts))
	}
	if atts[0].ID != a1.ID || atts[0].Number != 1 || atts[0].DurationMS != 1500 || atts[0].ResponseCode != 503 || atts[0].Error != "status 503" {
		t.Errorf("first stored attempt %+v, want %+v", atts[0], a1)
	}
	if !strings.HasPrefix(atts[0].ResponseBody, "busy ") {
		t.Errorf("stored response body %q, want it to start with the receiver's text", atts[0].ResponseBody)
	}
	sameTime(t, "first attempt StartedAt", atts[0].StartedAt, us(t0))
	if atts[1].ID != a2.ID || atts[1].Number != 2 || atts[1].Error != "timeout" {
		t.Errorf("second stored attempt %+v, want %+v", atts[1], a2)
	}

	// A retried delivery starts a new series but keeps counting attempts.
	do(st.DeliveryRetry(ctx, "acme", id, t0.Add(2*time.Hour))).must(t)
	claim(t, st, "w", t0.Add(2*time.Hour), 1, 1)
	a3 := record(t, st, "w", id, store.StatusDelivered, t0.Add(2*time.Hour), nil)
	d = do(st.DeliveryGet(ctx, "acme", id)).must(t)
	if a3.Number != 3 || d.Attempts != 3 || d.SeriesAttempts != 1 || d.Status != store.StatusDelivered || d.NextAttemptAt != nil {
		t.Errorf("after the retried series: attempt %d, delivery %+v; want attempt 3, 3 in all, 1 in the series, delivered", a3.Number, d)
	}
}

func testRecordAttemptFenced(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	params := func(owner, status string) *store.AttemptRecordParams {
		return &store.AttemptRecordParams{DeliveryID: id, Owner: owner, Status: status, Now: t0,
			Attempt: &store.Attempt{StartedAt: t0, ResponseCode: 200}}
	}
	_, err := st.DeliveryRecordAttempt(ctx, params("w", store.StatusDelivered))
	wantErr(t, err, store.ErrLeaseLost, "recording an unclaimed delivery")

	claim(t, st, "w", t0, 1, 1)
	_, err = st.DeliveryRecordAttempt(ctx, params("intruder", store.StatusDelivered))
	wantErr(t, err, store.ErrLeaseLost, "recording another owner's lease")
	for _, bad := range []string{store.StatusPending, store.StatusDelivering, "done"} {
		if _, err := st.DeliveryRecordAttempt(ctx, params("w", bad)); err == nil {
			t.Errorf("recording outcome %q: no error, want one", bad)
		}
	}
	if _, err := st.DeliveryRecordAttempt(ctx, params("w", store.StatusRetrying)); err == nil {
		t.Error("recording retrying with no next attempt time: no error, want one")
	}
	_, err = st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{DeliveryID: "dlv_missing", Owner: "w",
		Status: store.StatusDelivered, Attempt: &store.Attempt{StartedAt: t0}})
	wantErr(t, err, store.ErrNotFound, "recording a missing delivery")

	if d := do(st.DeliveryGet(ctx, "acme", id)).must(t); d.Attempts != 0 || d.Status != store.StatusDelivering {
		t.Fatalf("after refused records: %+v, want untouched", d)
	}
	record(t, st, "w", id, store.StatusDelivered, t0, nil)
	_, err = st.DeliveryRecordAttempt(ctx, params("w", store.StatusDelivered))
	wantErr(t, err, store.ErrLeaseLost, "recording twice on one lease")
	if atts := do(st.DeliveryAttempts(ctx, id)).must(t); len(atts) != 1 {
		t.Errorf("%d attempts stored, want 1", len(atts))
	}
}

func testRecordAttemptBodyStoredOnce(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	now := t0
	attempt := func(body string, wantBody []byte) {
		t.Helper()
		got := claim(t, st, "w", now, 1, 1)
		if len(got) != 1 {
			t.Fatalf("claim at %v: %d deliveries, want 1", now, len(got))
		}
		if string(got[0].Body) != string(wantBody) || (wantBody == nil) != (got[0].Body == nil) {
			t.Fatalf("claimed Body = %q, want %q", got[0].Body, wantBody)
		}
		next := now.Add(time.Second)
		do(st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: id, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: &next, Now: now,
			Attempt: &store.Attempt{StartedAt: now, ResponseCode: 500}, Body: []byte(body),
		})).must(t)
		now = next
	}
	attempt(`{"first":1}`, nil)
	attempt(`{"second":2}`, []byte(`{"first":1}`))
	attempt(`{"third":3}`, []byte(`{"first":1}`))
}

func testRelease(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	claim(t, st, "w", t0, 1, 1)

	wantErr(t, st.DeliveryRelease(ctx, id, "intruder", t0), store.ErrLeaseLost, "releasing another owner's lease")
	wantErr(t, st.DeliveryRelease(ctx, "dlv_missing", "w", t0), store.ErrNotFound, "releasing a missing delivery")

	back := t0.Add(5 * time.Second)
	if err := st.DeliveryRelease(ctx, id, "w", back); err != nil {
		t.Fatalf("DeliveryRelease: %v", err)
	}
	d := do(st.DeliveryGet(ctx, "acme", id)).must(t)
	if d.Status != store.StatusPending || d.Attempts != 0 {
		t.Errorf("released before any attempt: %+v, want pending with no attempts", d)
	}
	sameTimePtr(t, "NextAttemptAt after release", d.NextAttemptAt, ptr(us(back)))
	if got := claim(t, st, "w", back.Add(-time.Microsecond), 1, 1); len(got) != 0 {
		t.Fatal("claimed a released delivery before the time given")
	}
	claim(t, st, "w", back, 1, 1)
	next := back.Add(time.Second)
	record(t, st, "w", id, store.StatusRetrying, back, &next)
	claim(t, st, "w", next, 1, 1)
	if err := st.DeliveryRelease(ctx, id, "w", next); err != nil {
		t.Fatalf("DeliveryRelease: %v", err)
	}
	if d := do(st.DeliveryGet(ctx, "acme", id)).must(t); d.Status != store.StatusRetrying || d.Attempts != 1 {
		t.Errorf("released after an attempt: %+v, want retrying with its 1 attempt", d)
	}
	wantErr(t, st.DeliveryRelease(ctx, id, "w", next), store.ErrLeaseLost, "releasing twice")
}

func testRetry(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID

	// A pending delivery is due already: a retry leaves it as it is, and
	// never makes it due later.
	d := do(st.DeliveryRetry(ctx, "acme", id, t0.Add(time.Minute))).must(t)
	if d.Status != store.StatusPending || d.Attempts != 0 {
		t.Errorf("retried pending delivery %+v, want still pending", d)
	}
	sameTimePtr(t, "NextAttemptAt of a retried pending delivery", d.NextAttemptAt, ptr(us(t0)))
	claim(t, st, "w", t0, 1, 1)
	_, err := st.DeliveryRetry(ctx, "acme", id, t0)
	wantErr(t, err, store.ErrConflict, "retrying a delivering delivery")

	// A retrying one is brought to now, its series kept: "retry now".
	next := t0.Add(time.Hour)
	record(t, st, "w", id, store.StatusRetrying, t0, &next)
	now := t0.Add(time.Minute)
	d = do(st.DeliveryRetry(ctx, "acme", id, now)).must(t)
	if d.Status != store.StatusRetrying || d.SeriesAttempts != 1 || d.Attempts != 1 {
		t.Errorf("retried retrying delivery %+v, want still retrying, its series of 1 attempt kept", d)
	}
	sameTimePtr(t, "NextAttemptAt of a retried retrying delivery", d.NextAttemptAt, ptr(us(now)))
	if got := claim(t, st, "w", now, 1, 1); len(got) != 1 || got[0].Delivery.ID != id {
		t.Fatalf("claimed at the retry's time %v, want the retried delivery", deliveryIDs(got))
	}
	record(t, st, "w", id, store.StatusFailed, now, nil)

	_, err = st.DeliveryRetry(ctx, "other", id, t0)
	wantErr(t, err, store.ErrNotFound, "another tenant retrying the delivery")
	_, err = st.DeliveryRetry(ctx, "acme", "dlv_missing", t0)
	wantErr(t, err, store.ErrNotFound, "retrying a missing delivery")

	at := t0.Add(time.Hour)
	d = do(st.DeliveryRetry(ctx, "acme", id, at)).must(t)
	if d.Status != store.StatusPending || d.SeriesAttempts != 0 || d.Attempts != 2 {
		t.Errorf("retried delivery %+v, want pending, a new series, 2 attempts kept", d)
	}
	sameTimePtr(t, "NextAttemptAt of a retry", d.NextAttemptAt, ptr(us(at)))
	got := claim(t, st, "w", at, 1, 1)
	wantIDs(t, "claimed after retry", deliveryIDs(got), []string{id})
	record(t, st, "w", id, store.StatusDelivered, at, nil)
	// A delivered delivery can be sent again too.
	if d := do(st.DeliveryRetry(ctx, "acme", id, at)).must(t); d.Status != store.StatusPending {
		t.Errorf("retried delivered delivery status %q, want pending", d.Status)
	}
}

func testNextDue(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	_, err := st.DeliveryNextDue(ctx)
	wantErr(t, err, store.ErrNotFound, "NextDue on an empty store")
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("none"))
	off := mkEndpoint(t, st, "acme", filters("none"), disabled)
	send := func(e *store.Endpoint, at time.Time) string {
		return do(st.EventCreate(ctx, &store.EventCreateParams{
			Event: newEvent("acme", "", "x", "{}"), EndpointIDs: []string{e.ID}, Now: at,
		})).must(t).Deliveries[0].ID
	}
	send(off, t0) // a disabled endpoint's: never claimable, never due
	id := send(ep, t0.Add(5*time.Second))
	sameTime(t, "NextDue with one pending", do(st.DeliveryNextDue(ctx)).must(t), us(t0.Add(5*time.Second)))

	claim(t, st, "w", t0.Add(5*time.Second), 1, 1)
	sameTime(t, "NextDue while leased", do(st.DeliveryNextDue(ctx)).must(t), us(t0.Add(5*time.Second+time.Minute)))

	next := t0.Add(time.Hour)
	record(t, st, "w", id, store.StatusRetrying, t0.Add(6*time.Second), &next)
	sameTime(t, "NextDue while retrying", do(st.DeliveryNextDue(ctx)).must(t), us(next))

	claim(t, st, "w", next, 1, 1)
	record(t, st, "w", id, store.StatusDelivered, next, nil)
	_, err = st.DeliveryNextDue(ctx)
	wantErr(t, err, store.ErrNotFound, "NextDue once everything is delivered")
}

func testTimesUTC(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	local := time.Date(2031, 5, 6, 12, 38, 9, 987654321, zone)
	got := do(st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "x", CreatedAt: local})).must(t)
	sameTime(t, "CreatedAt given in +05:30", got.CreatedAt, local.Truncate(time.Microsecond))
	if got.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("CreatedAt %v has sub-microsecond digits", got.CreatedAt)
	}
	sameTime(t, "CreatedAt read back", do(st.TenantGet(ctx, "acme")).must(t).CreatedAt, local.Truncate(time.Microsecond))
}

func testExtendLeases(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	wantIDs(t, "w1's claim", deliveryIDs(claim(t, st, "w1", t0, 10, 10)), []string{id})

	if n := do(st.DeliveryExtendLeases(ctx, "w2", []string{id}, t0.Add(5*time.Minute))).must(t); n != 0 {
		t.Errorf("w2 extended %d leases it does not hold, want 0", n)
	}
	if n := do(st.DeliveryExtendLeases(ctx, "w1", []string{id, "dlv_missing"}, t0.Add(5*time.Minute))).must(t); n != 1 {
		t.Errorf("w1 extended %d leases, want 1", n)
	}
	if n := do(st.DeliveryExtendLeases(ctx, "w1", nil, t0.Add(5*time.Minute))).must(t); n != 0 {
		t.Errorf("extending no ids extended %d", n)
	}
	// The original lease (1 minute) has run out, the extended one has not.
	if got := claim(t, st, "w2", t0.Add(2*time.Minute), 10, 10); len(got) != 0 {
		t.Fatalf("w2 claimed %v while w1's extended lease runs", deliveryIDs(got))
	}
	sameTime(t, "NextDue with the extended lease", do(st.DeliveryNextDue(ctx)).must(t), us(t0.Add(5*time.Minute)))
	record(t, st, "w1", id, store.StatusDelivered, t0.Add(2*time.Minute), nil)
	if n := do(st.DeliveryExtendLeases(ctx, "w1", []string{id}, t0.Add(9*time.Minute))).must(t); n != 0 {
		t.Errorf("extended %d leases of a delivered delivery, want 0", n)
	}
}

// An endpoint's own max_in_flight caps its claims below the server's cap,
// and the server's cap still holds one that asks for more.
func testClaimEndpointsOwnCap(t *testing.T, st store.Store) {
	mkTenant(t, st, "acme")
	low := mkEndpoint(t, st, "acme", filters("a"), func(e *store.Endpoint) { e.MaxInFlight = 1 })
	high := mkEndpoint(t, st, "acme", filters("a"), func(e *store.Endpoint) { e.MaxInFlight = 50 })
	server := mkEndpoint(t, st, "acme", filters("a"))
	for i := range 5 {
		mkEvent(t, st, "acme", "a", t0.Add(time.Duration(i)*time.Millisecond))
	}
	now := t0.Add(time.Second)
	got := countBy(claim(t, st, "w1", now, 100, 3), byEndpoint)
	if got[low.ID] != 1 || got[high.ID] != 3 || got[server.ID] != 3 {
		t.Fatalf("claim with server cap 3: %v; want 1 of the endpoint capped at 1, 3 of the one asking 50, 3 of the default", got)
	}
	// The one slot of the capped endpoint is taken, for every claimer.
	if more := countBy(claim(t, st, "w2", now, 100, 5), byEndpoint); more[low.ID] != 0 || more[high.ID] != 2 {
		t.Fatalf("second claim with server cap 5: %v, want none of the endpoint capped at 1 and 2 more of the one asking 50", more)
	}
}

func testEndpointMaxInFlightRoundTrips(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	e := mkEndpoint(t, st, "acme", func(e *store.Endpoint) { e.MaxInFlight = 4 })
	if got := do(st.EndpointGet(ctx, "acme", e.ID)).must(t); got.MaxInFlight != 4 {
		t.Fatalf("MaxInFlight = %d after create, want 4", got.MaxInFlight)
	}
	e.MaxInFlight = 0
	if got := do(st.EndpointUpdate(ctx, e)).must(t); got.MaxInFlight != 0 {
		t.Fatalf("MaxInFlight = %d after update to 0, want 0", got.MaxInFlight)
	}
}

// A hand-off whose every delivery is for an endpoint its owner says is
// full of its own active leases (HandOff.Active: the cap times OwnFactor)
// leases none and holds them all for the owner, who claims them as its
// attempts end; one short of full counts the leases in the database,
// which are what decides.
func testHandOffFullOfOwnActiveLeases(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	a, now := seedDue(t, st, 0)
	newEv := func(id string) []*store.EventCreateParams {
		return []*store.EventCreateParams{{Event: newEvent("acme", id, "a", `{}`), Now: now}}
	}
	full := &store.HandOff{Owner: "w1", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 2, OwnFactor: 4, Eager: []string{a.ID},
		Active: map[string]int{a.ID: 8}}
	_, handed, err := st.EventCreateMany(ctx, newEv("full"), full)
	if err != nil || len(handed) != 0 || full.Held != 1 {
		t.Fatalf("hand-off to an owner full of a's leases: handed %d, held %d (%v), want none and 1", len(handed), full.Held, err)
	}
	// Left pending and due: the owner's next claim takes it.
	got := do(st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w1", Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 2})).must(t)
	if len(got) != 1 || got[0].Event.ID != "full" {
		t.Fatalf("claim after the held hand-off: %d claimed, want the held one", len(got))
	}
	short := &store.HandOff{Owner: "w1", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 2, OwnFactor: 4, Eager: []string{a.ID},
		Active: map[string]int{a.ID: 7}}
	if _, handed, err := st.EventCreateMany(ctx, newEv("short"), short); err != nil || len(handed) != 1 {
		t.Fatalf("hand-off one short of full, one lease in the database: handed %d (%v), want 1", len(handed), err)
	}
}

// A claimer's settling deliveries (their attempts ended, their records
// not yet written) do not count against the endpoint's cap or the
// tenant's share for that claimer and its hand-offs: the caps bound the
// attempts being sent. Anyone else's leases, and a settling delivery
// whose lease has passed to another owner, still count.
func testClaimSettlingLeasesDoNotCount(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	a, now := seedDue(t, st, 6)
	claimWith := func(owner string, perTenant int, settling []string) []*store.Claimed {
		return do(st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
			Owner: owner, Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 2, PerTenant: perTenant, Settling: settling,
		})).must(t)
	}
	first := claimWith("w1", 0, nil)
	if len(first) != 2 {
		t.Fatalf("claim with cap 2: got %d, want 2", len(first))
	}
	if more := claimWith("w1", 0, nil); len(more) != 0 {
		t.Fatalf("claim with the cap full: got %d, want none", len(more))
	}
	// One of w1's two has been sent and waits for its record: one place.
	settling := []string{first[0].Delivery.ID}
	second := claimWith("w1", 0, settling)
	if len(second) != 1 || second[0].Delivery.EndpointID != a.ID {
		t.Fatalf("claim with one settling lease: got %d, want 1", len(second))
	}
	// Another claimer counts w1's settling lease: the cap is full for it.
	if more := claimWith("w2", 0, settling); len(more) != 0 {
		t.Fatalf("w2 naming w1's settling lease: got %d, want none (it is not w2's)", len(more))
	}
	// Both earlier settling, the tenant's share of 3 still counts the
	// unsettled third: one more.
	settling = []string{first[0].Delivery.ID, first[1].Delivery.ID}
	if more := claimWith("w1", 3, settling); len(more) != 1 {
		t.Fatalf("claim with share 3, 3 leases held, 2 settling: got %d, want 1", len(more))
	}

	// Hand-offs count them the same way: a's four leases, of which w1's
	// first two settle, leave no place but for those two.
	h := &store.HandOff{Owner: "w1", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 4}
	newEv := func(id string) []*store.EventCreateParams {
		return []*store.EventCreateParams{{Event: newEvent("acme", id, "a", `{}`), Now: now}}
	}
	if _, handed, err := st.EventCreateMany(ctx, newEv("h0"), h); err != nil || len(handed) != 0 {
		t.Fatalf("hand-off with a's 4 leases, cap 4: handed %d (%v), want none", len(handed), err)
	}
	// All four are w1's: the one left pending is held for w1 alone.
	if h.Held != 1 {
		t.Errorf("hand-off left %d held for w1's own leases, want 1", h.Held)
	}
	// For another node the same full cap is others' leases: not held.
	other := &store.HandOff{Owner: "w9", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 4}
	if _, handed, err := st.EventCreateMany(ctx, newEv("h9"), other); err != nil || len(handed) != 0 || other.Held != 0 {
		t.Fatalf("w9's hand-off with a's cap full of w1's leases: handed %d, held %d (%v), want none and none", len(handed), other.Held, err)
	}
	h.Settling = settling
	if _, handed, err := st.EventCreateMany(ctx, newEv("h1"), h); err != nil || len(handed) != 1 {
		t.Fatalf("hand-off with 2 of a's 4 leases settling: handed %d (%v), want 1", len(handed), err)
	}
	// Once recorded, a settling delivery is not leased at all: naming it
	// frees no second place.
	record(t, st, "w1", first[0].Delivery.ID, store.StatusDelivered, now, nil)
	if more := claimWith("w1", 0, settling); len(more) != 0 {
		t.Fatalf("claim after one settling lease was recorded: got %d, want none", len(more))
	}
}

// A claimer with OwnFactor leases up to that many times the cap of an
// endpoint it names eager while no other claimer holds any of its leases
// and its tenant holds fewer than half its share; once another does, every
// claimer is held to the cap for all leases together, so the cap on
// attempts sent holds across nodes. An endpoint not named eager is held
// to its cap.
func testClaimOwnFactor(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	ep, now := seedDue(t, st, 12)
	var eager []string
	claimAs := func(owner string, at time.Time, limit, perTenant int) []*store.Claimed {
		return do(st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{
			Owner: owner, Now: at, Lease: time.Minute, Limit: limit, PerEndpoint: 2, PerTenant: perTenant, OwnFactor: 3, Eager: eager,
		})).must(t)
	}
	// Not named eager: the cap alone, though w9 is alone.
	if got := claimAs("w9", now, 100, 0); len(got) != 2 {
		t.Fatalf("w9 alone, endpoint not eager, cap 2, factor 3: claimed %d, want 2", len(got))
	}
	now = now.Add(2 * time.Minute) // w9's leases run out
	eager = []string{ep.ID}
	// A tenant share of 4: from half of it (2 leases) on, the cap alone.
	if got := claimAs("w0", now, 2, 4); len(got) != 2 {
		t.Fatalf("w0 alone, limit 2: claimed %d, want 2", len(got))
	}
	if got := claimAs("w0", now, 100, 4); len(got) != 0 {
		t.Fatalf("w0 with 2 leases, cap 2, factor 3, tenant share 4: claimed %d, want none (the tenant holds half its share: the cap alone, full)", len(got))
	}
	now = now.Add(2 * time.Minute) // w0's leases run out
	if got := claimAs("w1", now, 100, 0); len(got) != 6 {
		t.Fatalf("w1 alone, cap 2, factor 3: claimed %d, want 6", len(got))
	}
	// w1's six leases fill the cap for anyone else.
	if got := claimAs("w2", now, 100, 0); len(got) != 0 {
		t.Fatalf("w2 beside w1's 6 leases, cap 2: claimed %d, want none", len(got))
	}
	// And for w1, past its factor.
	if got := claimAs("w1", now, 100, 0); len(got) != 0 {
		t.Fatalf("w1 again at 6 leases: claimed %d, want none", len(got))
	}
	// Once w1's leases run out, w2 takes one: then w3, another owner
	// beside w2, is held to the cap for all leases together.
	now = now.Add(2 * time.Minute)
	if got := claimAs("w2", now, 1, 0); len(got) != 1 {
		t.Fatalf("w2 after w1's leases ran out: claimed %d, want 1", len(got))
	}
	if got := claimAs("w3", now, 100, 0); len(got) != 1 {
		t.Fatalf("w3 beside w2's lease, cap 2: claimed %d, want 1 (the cap, not its factor)", len(got))
	}
	// Hand-offs count the same way: w3 and w2 hold the cap's two.
	h := &store.HandOff{Owner: "w3", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 2, OwnFactor: 3, Eager: eager}
	if _, handed, err := st.EventCreateMany(ctx, []*store.EventCreateParams{{Event: newEvent("acme", "h0", "a", `{}`), Now: now}}, h); err != nil || len(handed) != 0 {
		t.Fatalf("hand-off to w3 beside w2's lease, cap full: handed %d (%v), want none", len(handed), err)
	}
	// At endpoints no one holds a lease of, a hand-off to one owner
	// leases past the cap of an eager endpoint, and not past it of one
	// that is not.
	handTo := func(tenant string, eager bool) int {
		mkTenant(t, st, tenant)
		ep := mkEndpoint(t, st, tenant, filters("a"))
		h := &store.HandOff{Owner: "w4", Until: now.Add(time.Minute), Limit: 100, PerEndpoint: 2, OwnFactor: 3}
		if eager {
			h.Eager = []string{ep.ID}
		}
		var evs []*store.EventCreateParams
		for i := range 8 {
			evs = append(evs, &store.EventCreateParams{Event: newEvent(tenant, "h"+strconv.Itoa(i), "a", `{}`), Now: now})
		}
		_, handed, err := st.EventCreateMany(ctx, evs, h)
		if err != nil {
			t.Fatal(err)
		}
		return len(handed)
	}
	if got := handTo("beta", false); got != 2 {
		t.Fatalf("hand-off to w4 alone, endpoint not eager: handed %d of 8, want 2 (the cap)", got)
	}
	if got := handTo("gamma", true); got != 6 {
		t.Fatalf("hand-off to w4 alone, endpoint eager: handed %d of 8, want 6 (the cap times 3)", got)
	}
}

// An endpoint whose last store.OneAtATimeAfter attempts all failed is
// claimed and handed off one delivery at a time, whatever its cap, until
// an attempt to it is delivered.
func testClaimOneAtATimeAfterFailures(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	_, now := seedDue(t, st, 20)
	retry := now // due again at once
	failed := 0
	for failed < store.OneAtATimeAfter {
		cs := claim(t, st, "w", now, 100, 4)
		if want := min(4, store.OneAtATimeAfter-failed); len(cs) < want {
			t.Fatalf("claim after %d failed attempts: %d, want at least %d (the cap)", failed, len(cs), want)
		}
		for _, c := range cs {
			if failed == store.OneAtATimeAfter {
				// Put back untried, which is no failure.
				if err := st.DeliveryRelease(ctx, c.Delivery.ID, "w", now); err != nil {
					t.Fatal(err)
				}
				continue
			}
			recordAs(t, st, "w", c.Delivery.ID, store.StatusRetrying, 500, now, &retry)
			failed++
		}
	}
	cs := claim(t, st, "w", now, 100, 4)
	if len(cs) != 1 {
		t.Fatalf("claim after %d failed attempts in a row: %d, want 1", failed, len(cs))
	}
	if more := claim(t, st, "w2", now, 100, 4); len(more) != 0 {
		t.Fatalf("a second claim beside the one attempt in flight: %d, want none", len(more))
	}
	h := &store.HandOff{Owner: "w3", Until: now.Add(time.Minute), Limit: 10, PerEndpoint: 4}
	if _, handed, err := st.EventCreateMany(ctx, []*store.EventCreateParams{{Event: newEvent("acme", "h0", "a", `{}`), Now: now}}, h); err != nil || len(handed) != 0 {
		t.Fatalf("hand-off beside the one attempt in flight: handed %d (%v), want none", len(handed), err)
	}
	// Delivered: the cap again.
	recordAs(t, st, "w", cs[0].Delivery.ID, store.StatusDelivered, 200, now, nil)
	if got := claim(t, st, "w", now, 100, 4); len(got) != 4 {
		t.Fatalf("claim after a delivered attempt: %d, want 4 (the cap)", len(got))
	}
}

// recordAs records one attempt of a claimed delivery answered code.
func recordAs(t *testing.T, st store.Store, owner, deliveryID, status string, code int, now time.Time, next *time.Time) {
	t.Helper()
	do(st.DeliveryRecordAttempt(ctxT(t), &store.AttemptRecordParams{
		DeliveryID: deliveryID, Owner: owner, Status: status, NextAttemptAt: next, Now: now, Body: []byte(`{}`),
		Attempt: &store.Attempt{StartedAt: now, DurationMS: 1, ResponseCode: code},
	})).must(t)
}

// seedDue makes tenant acme with one endpoint of events "a" and n events
// for it a millisecond apart from t0: n deliveries, all due at the time it
// returns.
func seedDue(t *testing.T, st store.Store, n int) (*store.Endpoint, time.Time) {
	t.Helper()
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme", filters("a"))
	for i := range n {
		mkEvent(t, st, "acme", "a", t0.Add(time.Duration(i)*time.Millisecond))
	}
	return ep, t0.Add(time.Second)
}
