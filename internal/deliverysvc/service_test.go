package deliverysvc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/deliverysvc"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// setup stores tenant acme with one endpoint and one event, and returns
// the service on a fake clock, the clock and the event's one delivery,
// pending.
func setup(t *testing.T, st store.Store) (*deliverysvc.Service, *clock.Fake, *store.Delivery) {
	t.Helper()
	ctx := t.Context()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	now := clk.Now()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	ep := &store.Endpoint{
		ID: id.NewAt(id.Endpoint, now), TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: now, UpdatedAt: now,
	}
	if _, err := st.EndpointCreate(ctx, ep); err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	ev := &store.Event{
		TenantID: "acme", ID: id.NewAt(id.Event, now), Type: "user.created", Data: []byte(`{}`),
		TraceID: id.NewTraceID(), Source: store.SourceAPI, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	res, err := st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: now})
	if err != nil || len(res.Deliveries) != 1 {
		t.Fatalf("create event: %v, %d deliveries; want 1", err, len(res.Deliveries))
	}
	return deliverysvc.NewService(&service.Base{Store: st, Clock: clk}), clk, res.Deliveries[0]
}

// fail claims the delivery and records one failed attempt, its last.
func fail(t *testing.T, st store.Store, now time.Time) {
	t.Helper()
	ctx := t.Context()
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 1, PerEndpoint: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d deliveries (%v), want 1", len(claimed), err)
	}
	c := claimed[0]
	if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
		DeliveryID: c.Delivery.ID, Owner: "test", Status: store.StatusFailed, Now: now, Body: []byte(`{}`),
		Attempt: &store.Attempt{
			ID: id.NewAt(id.Attempt, now), DeliveryID: c.Delivery.ID, Number: 1, StartedAt: now, DurationMS: 12, ResponseCode: 500, ResponseBody: "boom",
		},
	}); err != nil {
		t.Fatalf("record failed attempt: %v", err)
	}
}

func TestService_RetryOnlyWhatHasEnded(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk, d := setup(t, st)
		ctx := t.Context()

		_, err := svc.Retry(ctx, "acme", d.ID)
		want := "delivery " + d.ID + " is still pending; only a delivered or failed delivery can be retried"
		if !errors.Is(err, herald.ErrConflict) || err.Error() != want {
			t.Fatalf("retry of a pending delivery: %v, want the conflict %q", err, want)
		}

		fail(t, st, clk.Now())
		clk.Advance(time.Minute)
		got, err := svc.Retry(ctx, "acme", d.ID)
		if err != nil || got.Status != store.StatusPending || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(clk.Now()) {
			t.Fatalf("retry of a failed delivery = %+v, %v; want it pending, due now on the service's clock", got, err)
		}

		d2, atts, err := svc.Get(ctx, "acme", d.ID, 0)
		if err != nil || d2.ID != d.ID || len(atts) != 1 || atts[0].ResponseCode != 500 {
			t.Fatalf("Get = %+v, %d attempts, %v; want the delivery and its failed attempt", d2, len(atts), err)
		}
		rows, err := svc.List(ctx, "acme", &store.DeliveryListParams{ListParams: store.ListParams{Limit: 10}, Status: store.StatusPending})
		if err != nil || len(rows) != 1 || rows[0].ID != d.ID {
			t.Fatalf("List of pending = %v, %v; want the retried delivery", rows, err)
		}
	})
}

func TestService_AMissingDeliveryIsNamed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _, d := setup(t, st)
		const missing = "dlv_01JH5Z3V6N8QK2R4T7W9Y1B3D5"
		_, _, err := svc.Get(t.Context(), "acme", missing, 0)
		if !errors.Is(err, herald.ErrNotFound) || err.Error() != "delivery "+missing+" not found" {
			t.Errorf("Get of a missing delivery: %v", err)
		}
		if _, err := svc.Retry(t.Context(), "acme", missing); !errors.Is(err, herald.ErrNotFound) || !strings.Contains(err.Error(), missing) {
			t.Errorf("Retry of a missing delivery: %v", err)
		}
		// Another tenant's delivery is missing too.
		if _, _, err := svc.Get(t.Context(), "other", d.ID, 0); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("Get of another tenant's delivery: %v, want not found", err)
		}
	})
}
