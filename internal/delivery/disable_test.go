package delivery_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// disabledNotice is the body of a webhook.endpoint_disabled delivery.
type disabledNotice struct {
	Type string `json:"type"`
	Data struct {
		EndpointID   string `json:"endpoint_id"`
		Reason       string `json:"reason"`
		DisabledAt   string `json:"disabled_at"`
		ResponseCode int    `json:"response_code"`
	} `json:"data"`
}

func disableAfter(d time.Duration) option {
	return func(cfg *delivery.Config) { cfg.DisableAfter = d }
}

// TestEngine_GoneDisablesAndNotifies: a 410 disables the endpoint at once,
// another endpoint of the tenant subscribed to the disabled event hears of
// it, and an event sent meanwhile is a failed delivery, never attempted.
func TestEngine_GoneDisablesAndNotifies(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		b := setup(t, st)
		gone := newReceiver(t)
		gone.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
		watcher := newReceiver(t)
		goneEp := b.endpoint(t, gone.URL, []string{"user.created", "webhook.endpoint_disabled"})
		b.endpoint(t, watcher.URL, []string{"webhook.endpoint_disabled"})
		b.run(t)

		res := b.send(t, "user.created", `{}`)
		b.waitAttempts(t, res.Deliveries[0].ID, 1)
		waitFor(t, "the disabled event at the watcher", 10*time.Second, func() bool { return len(watcher.got()) == 1 })
		var n disabledNotice
		if err := json.Unmarshal(watcher.got()[0].body, &n); err != nil {
			t.Fatal(err)
		}
		if n.Type != "webhook.endpoint_disabled" || n.Data.EndpointID != goneEp.ID || n.Data.Reason != "gone" ||
			n.Data.ResponseCode != 410 || n.Data.DisabledAt == "" {
			t.Errorf("disabled event = %s, want gone, 410, of %s", watcher.got()[0].body, goneEp.ID)
		}
		ep, err := st.EndpointGet(ctx, b.tenant, goneEp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ep.Enabled || ep.DisabledReason != store.DisabledGone || ep.Health.ConsecutiveFailures != 1 || ep.Health.LastResponseCode != 410 {
			t.Errorf("endpoint enabled %v, reason %q, health %+v; want disabled as gone after one 410", ep.Enabled, ep.DisabledReason, ep.Health)
		}
		if got := len(gone.got()); got != 1 {
			t.Errorf("the gone endpoint got %d requests, want 1: the disabled event is not sent to it", got)
		}
		later := b.send(t, "user.created", `{}`)
		if len(later.Deliveries) != 1 || later.Deliveries[0].Status != store.StatusFailed ||
			later.Deliveries[0].LastError != store.ErrorEndpointDisabled {
			t.Fatalf("an event for the disabled endpoint made %+v, want one failed delivery, endpoint_disabled", later.Deliveries)
		}
	})
}

// TestEngine_FailingStreakDisables: attempts that fail for longer than
// DisableAfter, on the engine's clock, disable the endpoint as failing;
// a shorter streak does not.
func TestEngine_FailingStreakDisables(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		fake := clock.NewFake(t0)
		b := setup(t, st, onClock(fake), disableAfter(90*time.Minute))
		b.putFormat(t, `{"name":"patient","retry":{"schedule":["1h","1h","1h"]}}`)
		dead := newReceiver(t)
		dead.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
		watcher := newReceiver(t)
		deadEp := b.endpoint(t, dead.URL, []string{"user.created"}, func(e *store.Endpoint) { e.Format = "patient" })
		b.endpoint(t, watcher.URL, []string{"webhook.*"})
		b.run(t)

		id := b.send(t, "user.created", `{}`).Deliveries[0].ID
		d := b.waitAttempts(t, id, 1)
		b.advanceTo(t, *d.NextAttemptAt, "the second attempt", func() bool { return b.get(t, id).Attempts == 2 })
		d = b.waitAttempts(t, id, 2)
		if ep, _ := st.EndpointGet(ctx, b.tenant, deadEp.ID); !ep.Enabled {
			t.Fatalf("disabled after a streak of about an hour, want enabled until 90 minutes")
		}
		b.advanceTo(t, *d.NextAttemptAt, "the third attempt", func() bool { return b.get(t, id).Attempts == 3 })
		waitFor(t, "the disabled event at the watcher", 10*time.Second, func() bool { return len(watcher.got()) == 1 })
		var n disabledNotice
		if err := json.Unmarshal(watcher.got()[0].body, &n); err != nil {
			t.Fatal(err)
		}
		if n.Type != "webhook.endpoint_disabled" || n.Data.EndpointID != deadEp.ID || n.Data.Reason != "failing" || n.Data.ResponseCode != 502 {
			t.Errorf("disabled event = %s, want failing, 502", watcher.got()[0].body)
		}
		ep, err := st.EndpointGet(ctx, b.tenant, deadEp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ep.Enabled || ep.DisabledReason != store.DisabledFailing || ep.Health.ConsecutiveFailures != 3 {
			t.Errorf("endpoint enabled %v, reason %q, health %+v; want disabled as failing after 3", ep.Enabled, ep.DisabledReason, ep.Health)
		}
		sameAt(t, "failing since", ep.Health.FailingSince, t0)
	})
}

func sameAt(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// operatorNotice is the body of a notice at an operator endpoint.
type operatorNotice struct {
	Type string `json:"type"`
	Data struct {
		TenantID   *string `json:"tenant_id"`
		EndpointID string  `json:"endpoint_id"`
		Reason     string  `json:"reason"`
	} `json:"data"`
}

// TestEngine_DisabledNoticeReachesTheOperator: an endpoint disabled under
// a format with a disabled event type of its own raises that type to the
// tenant's watcher and webhook.endpoint_disabled, with the tenant's id, to
// every operator endpoint; an operator endpoint disabled in turn raises
// one notice, with tenant_id null, to the other operator endpoint and
// none to the tenant.
func TestEngine_DisabledNoticeReachesTheOperator(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		b.putFormat(t, `{"name":"custom","disabled_event_type":"acme.hook_disabled"}`)
		answer := func(code int) func(int, *http.Request, http.ResponseWriter) {
			return func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(code) }
		}
		gone, watcher, opGone, opWatcher := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
		gone.setRespond(answer(http.StatusGone))
		opGone.setRespond(answer(http.StatusGone))
		goneEp := b.endpoint(t, gone.URL, []string{"user.created"}, func(e *store.Endpoint) { e.Format = "custom" })
		watcherEp := b.endpoint(t, watcher.URL, []string{"acme.*", "webhook.*"})
		operator := func(e *store.Endpoint) { e.TenantID = store.OperatorTenant }
		opGoneEp := b.endpoint(t, opGone.URL, []string{"*"}, operator)
		b.endpoint(t, opWatcher.URL, []string{"webhook.endpoint_disabled"}, operator)
		b.run(t)

		b.send(t, "user.created", `{}`)
		waitFor(t, "both notices at the operator's watcher", 10*time.Second, func() bool { return len(opWatcher.got()) == 2 })
		var tenantSide disabledNotice
		if w := watcher.got(); len(w) != 1 || json.Unmarshal(w[0].body, &tenantSide) != nil ||
			tenantSide.Type != "acme.hook_disabled" || tenantSide.Data.EndpointID != goneEp.ID {
			t.Fatalf("the tenant's watcher got %d requests, first %s; want one acme.hook_disabled of %s", len(w), w[0].body, goneEp.ID)
		}
		var first, second operatorNotice
		got := opWatcher.got()
		if err := json.Unmarshal(got[0].body, &first); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got[1].body, &second); err != nil {
			t.Fatal(err)
		}
		if first.Type != "webhook.endpoint_disabled" || first.Data.TenantID == nil || *first.Data.TenantID != b.tenant ||
			first.Data.EndpointID != goneEp.ID || first.Data.Reason != "gone" ||
			got[0].header.Get("webhook-id") != watcher.got()[0].header.Get("webhook-id") {
			t.Errorf("the operator's first notice = %s, want webhook.endpoint_disabled of %s with tenant_id %q, the tenant's notice's id", got[0].body, goneEp.ID, b.tenant)
		}
		if second.Type != "webhook.endpoint_disabled" || second.Data.TenantID != nil || second.Data.EndpointID != opGoneEp.ID {
			t.Errorf("the operator's second notice = %s, want its own endpoint %s disabled, tenant_id null", got[1].body, opGoneEp.ID)
		}
		if n := len(opGone.got()); n != 1 {
			t.Errorf("the operator endpoint answering 410 got %d requests, want 1: nothing after it was disabled", n)
		}
		// Stored, not only not yet sent: the tenant's watcher has the one
		// delivery.
		ds, err := st.DeliveryList(context.Background(), b.tenant, &store.DeliveryListParams{EndpointID: watcherEp.ID})
		if err != nil || len(ds) != 1 {
			t.Errorf("the tenant's watcher has %d deliveries (%v), want 1: an operator endpoint's notice is the operator's only", len(ds), err)
		}
	})
}
