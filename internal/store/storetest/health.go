package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// healthRig is one tenant with endpoints whose deliveries a test claims and
// records by hand, one attempt at a time or in batches.
type healthRig struct {
	t  *testing.T
	st store.Store
}

// attemptAt is one attempt to record: a delivery of ep that answered code
// (0: none) at at, failed unless code is 2xx.
type attemptAt struct {
	ep           *store.Endpoint
	code         int
	at           time.Time
	disableAfter time.Duration
}

// record makes one pending delivery per attempt (an event each), claims
// them all and records them in one batch, and returns the results in order.
func (r *healthRig) record(atts ...attemptAt) []store.AttemptRecordResult {
	r.t.Helper()
	ctx := ctxT(r.t)
	var ps []*store.AttemptRecordParams
	for _, a := range atts {
		ev := newEvent(a.ep.TenantID, "", "order.paid", `{}`)
		res := do(r.st.EventCreate(ctx, &store.EventCreateParams{Event: ev, EndpointIDs: []string{a.ep.ID},
			Now: a.at, LeaseOwner: "w", LeaseUntil: a.at.Add(time.Minute)})).must(r.t)
		status := store.StatusFailed
		if a.code >= 200 && a.code < 300 {
			status = store.StatusDelivered
		}
		ps = append(ps, &store.AttemptRecordParams{
			DeliveryID: res.Deliveries[0].ID, Owner: "w", Status: status, Now: a.at.Add(time.Second),
			Attempt:      &store.Attempt{StartedAt: a.at, DurationMS: 5, ResponseCode: a.code},
			DisableAfter: a.disableAfter, TraceID: ev.TraceID,
		})
	}
	res := do(r.st.DeliveryRecordAttempts(ctx, ps)).must(r.t)
	for i, x := range res {
		if x.Err != nil {
			r.t.Fatalf("record attempt %d: %v", i, x.Err)
		}
	}
	return res
}

func (r *healthRig) get(ep *store.Endpoint) *store.Endpoint {
	r.t.Helper()
	return do(r.st.EndpointGet(ctxT(r.t), ep.TenantID, ep.ID)).must(r.t)
}

// testEndpointHealth: the streak, the last attempt and the day's counts
// follow the attempts, across batches and within one, per endpoint.
func testEndpointHealth(t *testing.T, st store.Store) {
	r := &healthRig{t, st}
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	other := mkEndpoint(t, st, "acme")
	// The day's counts are read on the store's clock: the attempts are
	// placed around the wall clock's now, far from the window's edges.
	now := store.Timestamp(time.Now())

	fresh := r.get(ep)
	if fresh.Health != (store.EndpointHealth{}) {
		t.Fatalf("health of a new endpoint = %+v, want all zero", fresh.Health)
	}
	r.record(attemptAt{ep: ep, code: 503, at: now.Add(-30 * time.Hour)})
	r.record(attemptAt{ep: ep, code: 500, at: now.Add(-2 * time.Hour)}, attemptAt{ep: ep, code: 0, at: now.Add(-time.Hour)},
		attemptAt{ep: other, code: 200, at: now.Add(-time.Hour)})
	h := r.get(ep).Health
	if h.ConsecutiveFailures != 3 || h.LastResponseCode != 0 || h.Succeeded24h != 0 || h.Failed24h != 2 {
		t.Errorf("after three failures (one 30 h ago) health = %+v, want 3 in a row, last code 0, 0 and 2 in 24 h", h)
	}
	sameTimePtr(t, "FailingSince", h.FailingSince, ptr(now.Add(-30*time.Hour)))
	sameTimePtr(t, "LastAttemptAt", h.LastAttemptAt, ptr(now.Add(-time.Hour)))
	oh := r.get(other).Health
	if oh.ConsecutiveFailures != 0 || oh.FailingSince != nil || oh.LastResponseCode != 200 || oh.Succeeded24h != 1 || oh.Failed24h != 0 {
		t.Errorf("the other endpoint's health = %+v, want one success", oh)
	}

	// A success ends the streak; failures after it in the same batch
	// start a new one.
	r.record(attemptAt{ep: ep, code: 200, at: now.Add(-30 * time.Minute)}, attemptAt{ep: ep, code: 502, at: now.Add(-20 * time.Minute)})
	h = r.get(ep).Health
	if h.ConsecutiveFailures != 1 || h.LastResponseCode != 502 || h.Succeeded24h != 1 || h.Failed24h != 3 {
		t.Errorf("after a success then a failure health = %+v, want 1 in a row, last 502, 1 and 3 in 24 h", h)
	}
	sameTimePtr(t, "FailingSince after a success", h.FailingSince, ptr(now.Add(-20*time.Minute)))
	r.record(attemptAt{ep: ep, code: 204, at: now.Add(-10 * time.Minute)})
	h = r.get(ep).Health
	if h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.LastResponseCode != 204 {
		t.Errorf("after a success health = %+v, want no streak, last 204", h)
	}
	lst := do(st.EndpointList(ctxT(t), "acme", &store.ListParams{Limit: 10})).must(t)
	for _, e := range lst {
		if e.ID == ep.ID && (e.Health.Succeeded24h != 2 || e.Health.Failed24h != 3) {
			t.Errorf("EndpointList health = %+v, want 2 and 3 in 24 h as EndpointGet", e.Health)
		}
	}
}

// testEndpointDisableGone: a 410 disables the endpoint in the batch that
// records it, once.
func testEndpointDisableGone(t *testing.T, st store.Store) {
	r := &healthRig{t, st}
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	res := r.record(attemptAt{ep: ep, code: 500, at: t0}, attemptAt{ep: ep, code: 410, at: t0.Add(time.Second)})
	if res[0].Disabled != nil {
		t.Errorf("the 500 disabled the endpoint: %+v", res[0].Disabled)
	}
	d := res[1].Disabled
	if d == nil || d.Reason != store.DisabledGone || d.ResponseCode != 410 || d.Endpoint.ID != ep.ID || d.Endpoint.Enabled ||
		d.TraceID == "" {
		t.Fatalf("the 410's result Disabled = %+v, want the endpoint disabled as gone", d)
	}
	got := r.get(ep)
	if got.Enabled || got.DisabledReason != store.DisabledGone {
		t.Errorf("endpoint enabled %v, reason %q, want disabled, gone", got.Enabled, got.DisabledReason)
	}
	sameTimePtr(t, "DisabledAt", got.DisabledAt, ptr(us(t0.Add(2*time.Second))))
	if again := r.record(attemptAt{ep: ep, code: 410, at: t0.Add(time.Minute)}); again[0].Disabled != nil {
		t.Errorf("a second 410 disabled it again: %+v", again[0].Disabled)
	}
}

// testEndpointDisableFailing: a streak older than DisableAfter disables,
// a younger one or a DisableAfter of 0 does not.
func testEndpointDisableFailing(t *testing.T, st store.Store) {
	r := &healthRig{t, st}
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	never := mkEndpoint(t, st, "acme")
	hour := time.Hour
	for _, step := range []struct {
		at   time.Time
		code int
		want bool
	}{
		{t0, 503, false},
		{t0.Add(30 * time.Minute), 0, false},
		{t0.Add(2 * time.Hour), 200, false}, // a success: the streak ends
		{t0.Add(3 * time.Hour), 500, false}, // a new streak begins
		{t0.Add(3*time.Hour + 50*time.Minute), 500, false},
		{t0.Add(4*time.Hour + 10*time.Minute), 500, true}, // 70 minutes of failures
	} {
		res := r.record(attemptAt{ep: ep, code: step.code, at: step.at, disableAfter: hour},
			attemptAt{ep: never, code: step.code, at: step.at})
		if got := res[0].Disabled != nil; got != step.want {
			t.Fatalf("attempt at %v (%d): disabled %v, want %v", step.at.Sub(t0), step.code, got, step.want)
		}
		if res[1].Disabled != nil {
			t.Fatalf("DisableAfter 0 disabled an endpoint at %v", step.at.Sub(t0))
		}
		if step.want && (res[0].Disabled.Reason != store.DisabledFailing || res[0].Disabled.ResponseCode != 500) {
			t.Errorf("Disabled = %+v, want failing, 500", res[0].Disabled)
		}
	}
	got := r.get(ep)
	if got.Enabled || got.DisabledReason != store.DisabledFailing || got.Health.ConsecutiveFailures != 3 {
		t.Errorf("endpoint = enabled %v, reason %q, health %+v; want disabled as failing after 3 failures", got.Enabled, got.DisabledReason, got.Health)
	}
	if n := r.get(never); !n.Enabled || n.DisabledReason != "" {
		t.Errorf("endpoint without DisableAfter: enabled %v, reason %q, want enabled", n.Enabled, n.DisabledReason)
	}
}

// testEndpointDisabledReasons: enabled false by hand is manual, enabling
// clears the reason and the streak, and other changes keep them.
func testEndpointDisabledReasons(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	r := &healthRig{t, st}
	mkTenant(t, st, "acme")
	off := mkEndpoint(t, st, "acme", disabled)
	if off.DisabledReason != store.DisabledManual || off.DisabledAt == nil {
		t.Errorf("created disabled: reason %q at %v, want manual with a time", off.DisabledReason, off.DisabledAt)
	}
	ep := mkEndpoint(t, st, "acme")
	if ep.DisabledReason != "" || ep.DisabledAt != nil {
		t.Errorf("created enabled: reason %q at %v, want none", ep.DisabledReason, ep.DisabledAt)
	}
	r.record(attemptAt{ep: ep, code: 410, at: t0})
	cur := r.get(ep)
	cur.Description = "still gone"
	kept := do(st.EndpointUpdate(ctx, cur)).must(t)
	if kept.Enabled || kept.DisabledReason != store.DisabledGone || kept.Health.ConsecutiveFailures != 1 {
		t.Errorf("another change: enabled %v, reason %q, health %+v; want it still gone", kept.Enabled, kept.DisabledReason, kept.Health)
	}
	kept.Enabled = true
	on := do(st.EndpointUpdate(ctx, kept)).must(t)
	if !on.Enabled || on.DisabledReason != "" || on.DisabledAt != nil || on.Health.ConsecutiveFailures != 0 || on.Health.FailingSince != nil {
		t.Errorf("enabled again: %+v, health %+v; want no reason, no streak", on, on.Health)
	}
	on.Enabled = false
	man := do(st.EndpointUpdate(ctx, on)).must(t)
	if man.DisabledReason != store.DisabledManual || man.DisabledAt == nil {
		t.Errorf("disabled by hand: reason %q at %v, want manual", man.DisabledReason, man.DisabledAt)
	}
}

// testEventCreateForDisabled: an event for a disabled endpoint is recorded
// as a failed delivery with no attempts that no claim takes, a failure
// notice is not, and after re-enabling a replay sends it.
func testEventCreateForDisabled(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	on := mkEndpoint(t, st, "acme")
	off := mkEndpoint(t, st, "acme", disabled)
	res := mkEvent(t, st, "acme", "order.paid", t0)
	wantIDs(t, "deliveries of an event", endpointsOf(res.Deliveries), sorted(on.ID, off.ID))
	var failed *store.Delivery
	for _, d := range res.Deliveries {
		if d.EndpointID == off.ID {
			failed = d
		}
	}
	if failed.Status != store.StatusFailed || failed.LastError != store.ErrorEndpointDisabled || failed.NextAttemptAt != nil || failed.Attempts != 0 {
		t.Fatalf("delivery to the disabled endpoint = %+v, want failed, endpoint_disabled, nothing due", failed)
	}
	read := do(st.DeliveryGet(ctx, "acme", failed.ID)).must(t)
	if read.Status != store.StatusFailed || read.LastError != store.ErrorEndpointDisabled {
		t.Errorf("stored = %+v, want failed, endpoint_disabled", read)
	}
	if atts := do(st.DeliveryAttempts(ctx, failed.ID)).must(t); len(atts) != 0 {
		t.Errorf("%d attempts, want none", len(atts))
	}
	notice := newEvent("acme", "", "webhook.delivery_failed", `{}`)
	notice.Source = store.SourceFailure
	n := do(st.EventCreate(ctx, &store.EventCreateParams{Event: notice, Now: t0})).must(t)
	wantIDs(t, "deliveries of a failure notice", endpointsOf(n.Deliveries), []string{on.ID})

	for _, c := range claim(t, st, "w", t0.Add(time.Second), 10, 10) {
		if c.Delivery.EndpointID == off.ID {
			t.Fatalf("claimed %s of the disabled endpoint", c.Delivery.ID)
		}
	}
	ep := do(st.EndpointGet(ctx, "acme", off.ID)).must(t)
	ep.Enabled = true
	do(st.EndpointUpdate(ctx, ep)).must(t)
	r := mkReplay(t, st, "acme", off.ID, t0.Add(-time.Minute), t0.Add(time.Minute), "w", t0.Add(time.Minute))
	if got := step(t, st, r.ID, "w", t0.Add(time.Minute), 10); got.Queued != 1 || got.Status != store.ReplayDone {
		t.Fatalf("replay %s queued %d, want done with 1", got.Status, got.Queued)
	}
	var again []string
	for _, c := range claim(t, st, "w", t0.Add(2*time.Minute), 10, 10) {
		if c.Delivery.EndpointID == off.ID {
			again = append(again, c.Delivery.ID)
		}
	}
	wantIDs(t, "claimed of the re-enabled endpoint after the replay", again, []string{failed.ID})
}
