package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/web"
)

// failedDeliveries stores an endpoint of acme and n deliveries to it that
// failed, a minute apart in the last half hour, and returns the endpoint.
func (d *dash) failedDeliveries(t *testing.T, n int) *store.Endpoint {
	t.Helper()
	ctx := t.Context()
	now := d.clk.Now()
	ep, err := d.st.EndpointCreate(ctx, &store.Endpoint{
		ID: id.NewAt(id.Endpoint, now), TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		at := now.Add(-30*time.Minute + time.Duration(i)*time.Minute)
		ev := &store.Event{TenantID: "acme", ID: id.NewAt(id.Event, at), Type: "user.created", Data: []byte(`{}`), TraceID: id.NewTraceID(), Source: store.SourceAPI, CreatedAt: at}
		ev.Hash = store.EventHash(ev.Type, ev.Data)
		res, err := d.st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: at, LeaseOwner: "w", LeaseUntil: at.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: res.Deliveries[0].ID, Owner: "w", Attempt: &store.Attempt{StartedAt: at, ResponseCode: 500}, Status: store.StatusFailed, Now: at,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return ep
}

// The endpoint page's replay starts a replay job: a small one says what it
// queued, a longer one that it goes on in the background.
func TestEndpoint_ReplayStartsAReplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch int
		want  string
	}{
		{"small", 0, "Replay queued 3 failed deliveries of the last 1h0m0s again."},
		{"longer than a batch", 2, "queued 2 failed deliveries of the last 1h0m0s so far, and goes on in the background."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDash(t, func(cfg *web.Config) {
				cfg.Replays = replay.NewService(&replay.Config{Base: service.Base{Store: cfg.Store, Clock: cfg.Clock}, Batch: tc.batch})
			})
			tok := d.signedIn()
			d.do(d.client, "POST", "/tenants", url.Values{"id": {"acme"}, "csrf": {tok}})
			ep := d.failedDeliveries(t, 3)
			path := "/tenants/acme/endpoints/" + ep.ID
			a := d.do(d.client, "POST", path+"/replay", url.Values{"window": {"1h"}, "csrf": {tok}})
			if a.code != http.StatusSeeOther {
				t.Fatalf("replay: %d, want a redirect to the endpoint\n%s", a.code, a.body)
			}
			if page := d.do(d.client, "GET", path, nil); !strings.Contains(page.body, tc.want) {
				t.Fatalf("the endpoint page after the replay does not say %q:\n%s", tc.want, page.body)
			}
			rows, err := d.st.ReplayList(t.Context(), "acme", &store.ReplayListParams{EndpointID: ep.ID})
			if err != nil || len(rows) != 1 {
				t.Fatalf("replays of the endpoint: %d, %v; want the one started", len(rows), err)
			}
		})
	}
}
