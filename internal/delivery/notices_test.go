package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func failureOf(n int) failure {
	return failure{DeliveryID: fmt.Sprintf("dlv_%d", n), EventID: "evt_1", EventType: "user.created", EndpointID: fmt.Sprintf("ep_%d", n), Attempts: 1, ResponseCode: 502}
}

// wantDue takes what is due at the fake clock's now and checks it is one
// notice per count given, in the key's order, counting that many failures.
func wantDue(t *testing.T, n *notices, fake *clock.Fake, counts ...int) {
	t.Helper()
	got, _ := n.takeDue(fake.Now(), false)
	if len(got) != len(counts) {
		t.Fatalf("at +%s: %d notices due, want %d", fake.Now().Sub(tp0), len(got), len(counts))
	}
	for i, d := range got {
		if d.n.count != counts[i] {
			t.Fatalf("at +%s: notice counts %d failures, want %d", fake.Now().Sub(tp0), d.n.count, counts[i])
		}
	}
}

// TestNotices_CoalescePerWindow: the failures of a tenant and failure type
// go out as one notice per window, counting them: the first after a
// second's gathering, the next a window after it; the window doubles while
// failures keep coming, up to its most, and starts again after a quiet one.
func TestNotices_CoalescePerWindow(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	n := newNotices(nil, fake, nil, time.Minute, 4*time.Minute)
	add := func(k int) {
		for i := range k {
			n.add("acme", "webhook.delivery_failed", "trace", failureOf(i))
		}
	}
	add(3)
	wantDue(t, n, fake)
	fake.Advance(time.Second)
	wantDue(t, n, fake, 3) // the first, gathered for a second: t=1s

	fake.Advance(10 * time.Second)
	add(1)
	fake.Advance(49 * time.Second)
	wantDue(t, n, fake) // t=60s: within the minute of the last
	fake.Advance(time.Second)
	add(1)                 // joins the one waiting
	wantDue(t, n, fake, 2) // t=61s; the window was busy: it is 2m now

	fake.Advance(time.Minute)
	add(5)
	fake.Advance(time.Minute - time.Millisecond)
	wantDue(t, n, fake) // t=181s less 1ms
	fake.Advance(time.Millisecond)
	wantDue(t, n, fake, 5) // 2m after the last; the window doubles to 4m, its most

	fake.Advance(3 * time.Minute)
	add(1)
	fake.Advance(time.Minute)
	wantDue(t, n, fake, 1) // t=421s: 4m after the last
	fake.Advance(3 * time.Minute)
	add(1)
	fake.Advance(time.Minute)
	wantDue(t, n, fake, 1) // still 4m: at its most

	// A quiet window: the next failure goes out after a second again, and
	// the window is a minute again.
	fake.Advance(4 * time.Minute)
	add(1)
	fake.Advance(time.Second)
	wantDue(t, n, fake, 1)
	add(1)
	fake.Advance(time.Minute - time.Millisecond)
	wantDue(t, n, fake) // a minute after the last, not four
	fake.Advance(time.Millisecond)
	wantDue(t, n, fake, 1)

	// Another tenant, or another failure type, has windows of its own.
	n.add("other", "webhook.delivery_failed", "trace", failureOf(1))
	n.add("acme", "v1.failed", "trace", failureOf(1))
	fake.Advance(time.Second)
	wantDue(t, n, fake, 1, 1)
}

// A notice lists its first failures only, however many it counts.
func TestNotices_KeepAFewFailures(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	n := newNotices(nil, fake, nil, 0, 0)
	for i := range 100 {
		n.add("acme", "webhook.delivery_failed", "trace", failureOf(i))
	}
	fake.Advance(time.Second)
	got, _ := n.takeDue(fake.Now(), false)
	var data noticeData
	if err := json.Unmarshal(got[0].params(fake.Now()).Event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Count != 100 || len(data.Failures) != noticeFailuresKept || data.DeliveryID != "dlv_0" || data.Failures[9].DeliveryID != "dlv_9" {
		t.Errorf("notice of 100 failures: %+v, want count 100, the first %d listed, the first on top", data, noticeFailuresKept)
	}
}

// Notices still waiting for their window when the engine stops are raised
// before run returns; nothing accepted is dropped for a window.
func TestNotices_RaisedOnStop(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(tp0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme", CreatedAt: tp0, UpdatedAt: tp0}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/", Events: []string{"webhook.delivery_failed"}, Secret: "whsec_x", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		n := newNotices(st, fake, nil, 0, 0)
		n.add("acme", "webhook.delivery_failed", "0af7651916cd43dd8448eb211c80319c", failureOf(1))
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { n.run(runCtx); close(done) }()
		stop() // before the second of gathering has passed on the fake clock
		<-done
		evs, err := st.EventList(ctx, "acme", &store.EventListParams{ListParams: store.ListParams{Limit: 10}})
		if err != nil || len(evs) != 1 || evs[0].Source != store.SourceFailure || evs[0].TraceID != "0af7651916cd43dd8448eb211c80319c" {
			t.Fatalf("events after stop: %+v, %v; want the one failure notice, in the failure's trace", evs, err)
		}
		ds, err := st.DeliveryList(ctx, "acme", &store.DeliveryListParams{EventID: evs[0].ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("the notice's deliveries: %d, %v; want 1", len(ds), err)
		}
	})
}
