package deliverysvc_test

import (
	"errors"
	"slices"
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

// attempt claims the due deliveries and records one attempt of each with
// status (failed or retrying, then due at next).
func attempt(t *testing.T, st store.Store, now time.Time, status string, next *time.Time) {
	t.Helper()
	ctx := t.Context()
	claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 100, PerEndpoint: 100})
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claimed %d deliveries (%v), want some", len(claimed), err)
	}
	for _, c := range claimed {
		if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: c.Delivery.ID, Owner: "test", Status: status, NextAttemptAt: next, Now: now, Body: []byte(`{}`),
			Attempt: &store.Attempt{StartedAt: now, DurationMS: 12, ResponseCode: 500, ResponseBody: "boom"},
		}); err != nil {
			t.Fatalf("record attempt: %v", err)
		}
	}
}

func TestService_RetrySendsAgainNow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk, d := setup(t, st)
		ctx := t.Context()

		// Pending: due already, left as it is.
		created := clk.Now()
		clk.Advance(time.Second)
		got, err := svc.Retry(ctx, "acme", d.ID)
		if err != nil || got.Status != store.StatusPending || !got.NextAttemptAt.Equal(created) {
			t.Fatalf("retry of a pending delivery = %+v, %v; want it pending, due when it was", got, err)
		}

		// Retrying an hour from now: due now, the series going on.
		later := clk.Now().Add(time.Hour)
		attempt(t, st, clk.Now(), store.StatusRetrying, &later)
		clk.Advance(time.Minute)
		got, err = svc.Retry(ctx, "acme", d.ID)
		if err != nil || got.Status != store.StatusRetrying || got.SeriesAttempts != 1 || !got.NextAttemptAt.Equal(clk.Now()) {
			t.Fatalf("retry of a retrying delivery = %+v, %v; want it retrying, due now on the service's clock", got, err)
		}

		// In flight: a conflict that says so.
		claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: clk.Now(), Lease: time.Minute, Limit: 1, PerEndpoint: 1})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d, %v", len(claimed), err)
		}
		_, err = svc.Retry(ctx, "acme", d.ID)
		want := "delivery " + d.ID + " has an attempt in flight; retry it once that attempt is over"
		if !errors.Is(err, herald.ErrConflict) || err.Error() != want {
			t.Fatalf("retry of a delivery in flight: %v, want the conflict %q", err, want)
		}
		if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: d.ID, Owner: "test", Status: store.StatusFailed, Now: clk.Now(),
			Attempt: &store.Attempt{StartedAt: clk.Now(), ResponseCode: 500},
		}); err != nil {
			t.Fatal(err)
		}

		// Failed: a new series.
		clk.Advance(time.Minute)
		got, err = svc.Retry(ctx, "acme", d.ID)
		if err != nil || got.Status != store.StatusPending || got.SeriesAttempts != 0 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(clk.Now()) {
			t.Fatalf("retry of a failed delivery = %+v, %v; want it pending, a new series, due now on the service's clock", got, err)
		}

		d2, atts, err := svc.Get(ctx, "acme", d.ID, 0)
		if err != nil || d2.ID != d.ID || len(atts) != 2 || atts[0].ResponseCode != 500 {
			t.Fatalf("Get = %+v, %d attempts, %v; want the delivery and its two attempts", d2, len(atts), err)
		}
		rows, err := svc.List(ctx, "acme", &store.DeliveryListParams{ListParams: store.ListParams{Limit: 10}, Status: store.StatusPending})
		if err != nil || len(rows) != 1 || rows[0].ID != d.ID {
			t.Fatalf("List of pending = %v, %v; want the retried delivery", rows, err)
		}
	})
}

func TestService_RetryNowMovesTheBacklog(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk, d := setup(t, st)
		ctx := t.Context()
		later := clk.Now().Add(3 * time.Hour)
		attempt(t, st, clk.Now(), store.StatusRetrying, &later)

		clk.Advance(time.Minute)
		n, err := svc.RetryNow(ctx, "acme", d.EndpointID)
		if err != nil || n != 1 {
			t.Fatalf("RetryNow = %d, %v; want 1 moved", n, err)
		}
		got, _, err := svc.Get(ctx, "acme", d.ID, 0)
		if err != nil || got.Status != store.StatusRetrying || !got.NextAttemptAt.Equal(clk.Now()) {
			t.Fatalf("after RetryNow: %+v, %v; want retrying, due now on the service's clock", got, err)
		}
		if n, err := svc.RetryNow(ctx, "acme", d.EndpointID); err != nil || n != 0 {
			t.Fatalf("RetryNow again = %d, %v; want nothing left to move", n, err)
		}
		_, err = svc.RetryNow(ctx, "acme", "ep_missing")
		if !errors.Is(err, herald.ErrNotFound) || err.Error() != "endpoint ep_missing not found" {
			t.Fatalf("RetryNow of a missing endpoint: %v", err)
		}
		if _, err := svc.RetryNow(ctx, "other", d.EndpointID); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("RetryNow of another tenant's endpoint: %v, want not found", err)
		}
	})
}

func TestService_ListRefusesBadFilters(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk, _ := setup(t, st)
		now := clk.Now()
		for _, tc := range []struct {
			p    store.DeliveryListParams
			want []string
		}{
			{store.DeliveryListParams{EventType: "a..b"}, []string{"event_type"}},
			{store.DeliveryListParams{Since: now, Until: now.Add(-time.Second)}, []string{"until"}},
			{store.DeliveryListParams{EventType: "*", Since: now, Until: now.Add(-time.Second)}, []string{"event_type", "until"}},
		} {
			_, err := svc.List(t.Context(), "acme", &tc.p)
			if got := herald.Locations(err); !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v): faults at %v, want %v", tc.p, got, tc.want)
			}
		}
		rows, err := svc.List(t.Context(), "acme", &store.DeliveryListParams{EventType: "user.created", Since: now, Until: now.Add(time.Second)})
		if err != nil || len(rows) != 1 {
			t.Fatalf("List in a window = %d, %v; want the one delivery", len(rows), err)
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
