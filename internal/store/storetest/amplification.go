package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// What keeps one event from fanning out without bound: a cap on a
// tenant's endpoints, and failure notices that skip failing endpoints.

func testEndpointCreateCapped(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	for i := range 3 {
		e := &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec_test", Enabled: i != 1}
		do(st.EndpointCreateCapped(ctx, e, 3)).must(t) // a disabled endpoint counts too
	}
	_, err := st.EndpointCreateCapped(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/4", Events: []string{"*"}}, 3)
	wantErr(t, err, store.ErrEndpointLimit, "the fourth endpoint under a cap of 3")
	eps := do(st.EndpointList(ctx, "acme", &store.ListParams{Limit: 10})).must(t)
	if len(eps) != 3 {
		t.Fatalf("acme has %d endpoints after a refused create, want 3", len(eps))
	}
	// The cap is per tenant, and counts what is there now.
	do(st.EndpointCreateCapped(ctx, &store.Endpoint{TenantID: "other", URL: "https://example.com/o", Events: []string{"*"}}, 3)).must(t)
	if err := st.EndpointDelete(ctx, "acme", eps[0].ID); err != nil {
		t.Fatal(err)
	}
	do(st.EndpointCreateCapped(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/5", Events: []string{"*"}}, 3)).must(t)
	// No cap, and a missing tenant.
	do(st.EndpointCreateCapped(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/6", Events: []string{"*"}}, 0)).must(t)
	_, err = st.EndpointCreateCapped(ctx, &store.Endpoint{TenantID: "ghost", URL: "https://example.com/g", Events: []string{"*"}}, 3)
	wantErr(t, err, store.ErrNotFound, "a capped create for a missing tenant")
}

// testEndpointCreateCappedConcurrently: creates racing on two nodes never
// leave the tenant with more endpoints than its cap.
func testEndpointCreateCappedConcurrently(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	stores := open(t, 2, true)
	ctx := ctxT(t)
	mkTenant(t, stores[0], "acme")
	const racers, cap = 16, 5
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		st := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			_, errs[i] = st.EndpointCreateCapped(ctx, &store.Endpoint{
				TenantID: "acme", URL: fmt.Sprintf("https://example.com/%d", i), Events: []string{"*"}, Secret: "whsec_test", Enabled: true,
			}, cap)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrEndpointLimit):
			t.Errorf("racer %d: %v, want nil or ErrEndpointLimit", i, err)
		}
	}
	n := len(do(stores[1].EndpointList(ctx, "acme", &store.ListParams{Limit: 100})).must(t))
	if created != cap || n != cap {
		t.Fatalf("%d racers under a cap of %d: %d creates succeeded, %d endpoints stored; want %d and %d", racers, cap, created, n, cap, cap)
	}
}

// testEventCreateSkipsFailing: with SkipFailing an event goes to the
// endpoints its type matches except those that are failing: the last
// attempts of their newest deliveries (3, or all when fewer) failed.
func testEventCreateSkipsFailing(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	const notice = "webhook.delivery_failed"
	now := t0
	// history gives the endpoint one delivery per code, oldest first, each
	// attempted once: delivered on a 2xx, failed otherwise.
	history := func(ep *store.Endpoint, codes ...int) {
		t.Helper()
		for _, code := range codes {
			now = now.Add(time.Millisecond)
			d := mkEvent(t, st, "acme", ep.Events[0], now).Deliveries[0]
			got := claim(t, st, "w", now, 10, 10)
			if len(got) != 1 || got[0].Delivery.ID != d.ID {
				t.Fatalf("claimed %v, want only %s", deliveryIDs(got), d.ID)
			}
			status := store.StatusFailed
			if code >= 200 && code < 300 {
				status = store.StatusDelivered
			}
			do(st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
				DeliveryID: d.ID, Owner: "w", Status: status, Now: now,
				Attempt: &store.Attempt{StartedAt: now, ResponseCode: code},
			})).must(t)
		}
	}
	ep := func(name string) *store.Endpoint {
		return mkEndpoint(t, st, "acme", filters("t."+name, notice))
	}
	fresh := ep("fresh")             // never attempted
	healthy := ep("healthy")         // 200
	failedOnce := ep("failed-once")  // 502: all of its one attempted delivery failed
	streak := ep("streak")           // 200, then 500, 0, 404
	recovered := ep("recovered")     // 500, 500, 500, then 200
	twoAfterOK := ep("two-after-ok") // 200, then 500, 500: no streak of 3 yet
	backlog := ep("backlog")         // 500, then more unattempted deliveries than the look-back
	mkEndpoint(t, st, "acme", filters(notice), disabled)
	history(healthy, 200)
	history(failedOnce, 502)
	history(streak, 200, 500, 0, 404)
	history(recovered, 500, 500, 500, 200)
	history(twoAfterOK, 200, 500, 500)
	history(backlog, 500)
	for range store.FailingLookback {
		now = now.Add(time.Millisecond)
		mkEvent(t, st, "acme", backlog.Events[0], now)
	}

	res := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", notice, `{"count":1}`), Now: now.Add(time.Second), SkipFailing: true,
	})).must(t)
	got := endpointsOf(sent(res.Deliveries))
	slices.Sort(got)
	want := sorted(fresh.ID, healthy.ID, recovered.ID, twoAfterOK.ID, backlog.ID)
	if !slices.Equal(got, want) {
		t.Errorf("a notice with SkipFailing went to %v, want %v (fresh, healthy, recovered, two-after-ok, backlog; not failed-once %s or streak %s)",
			got, want, failedOnce.ID, streak.ID)
	}
	// Without it, every enabled endpoint whose filter matches.
	res = do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", notice, `{"count":2}`), Now: now.Add(2 * time.Second),
	})).must(t)
	if n := len(sent(res.Deliveries)); n != 7 {
		t.Errorf("a notice without SkipFailing made %d deliveries to send, want 7", n)
	}
}

// sent leaves out the failed record a disabled endpoint gets for an event
// (endpoint_disabled): it is never sent.
func sent(ds []*store.Delivery) []*store.Delivery {
	return slices.DeleteFunc(slices.Clone(ds), func(d *store.Delivery) bool {
		return d.Status == store.StatusFailed && d.LastError == store.ErrorEndpointDisabled
	})
}
