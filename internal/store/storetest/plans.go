package storetest

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// PlanCase is a store call whose last SELECT must be served by an index,
// in the index's order (no sort of the rows it reads), on every driver.
// The drivers' own tests run each through a store that records its SQL,
// and ask their database for the plan of that SELECT.
type PlanCase struct {
	Name string
	// Index is the index the query must use.
	Index string
	Run   func(ctx context.Context, st store.Store) error
}

// PlanCases are the filtered lists and the retry-now batch of issue 10,
// the batches of replays and retention (with its purge of deleted
// endpoints) of issue 9, and the dashboard overview's reads of issue 11:
// each has an index
// leading with its equality filters and going on in its order, so a page
// or a batch reads only the rows it returns.
func PlanCases() []PlanCase {
	since, until := t0, t0.Add(time.Hour)
	deliveries := func(p store.DeliveryListParams) func(ctx context.Context, st store.Store) error {
		return func(ctx context.Context, st store.Store) error {
			p.Limit, p.Cursor = 50, store.EncodeCursor(until, "dlv_z")
			_, err := st.DeliveryList(ctx, "acme", &p)
			return err
		}
	}
	events := func(p store.EventListParams) func(ctx context.Context, st store.Store) error {
		return func(ctx context.Context, st store.Store) error {
			p.Limit, p.Cursor = 50, store.EncodeCursor(until, "evt_z")
			_, err := st.EventList(ctx, "acme", &p)
			return err
		}
	}
	return []PlanCase{
		{"deliveries in a window", "deliveries_list", deliveries(store.DeliveryListParams{Since: since, Until: until})},
		{"deliveries of a type", "deliveries_list_type", deliveries(store.DeliveryListParams{EventType: "order.paid"})},
		{"deliveries of a type in a window", "deliveries_list_type", deliveries(store.DeliveryListParams{EventType: "order.paid", Since: since, Until: until})},
		{"deliveries of a status since", "deliveries_list_status", deliveries(store.DeliveryListParams{Status: store.StatusFailed, Since: since})},
		{"deliveries to an endpoint until", "deliveries_list_endpoint", deliveries(store.DeliveryListParams{EndpointID: "ep_1", Until: until})},
		{"events in a window", "events_list", events(store.EventListParams{Since: since, Until: until})},
		{"events of a type since", "events_list_type", events(store.EventListParams{Type: "order.paid", Since: since})},
		{"retry-now batch", "deliveries_due_endpoint", func(ctx context.Context, st store.Store) error {
			if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "acme"}); err != nil {
				return err
			}
			ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/", Events: []string{"*"}, Secret: "s", Enabled: true})
			if err != nil {
				return err
			}
			// Two retrying deliveries and batches of one: the last batch
			// goes on from where the one before stopped.
			for range 2 {
				ev := newEvent("acme", "", "x", "{}")
				if _, err := st.EventCreate(ctx, &store.EventCreateParams{Event: ev, Now: t0}); err != nil {
					return err
				}
			}
			cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: t0, Lease: time.Minute, Limit: 2, PerEndpoint: 2})
			if err != nil {
				return err
			}
			next := t0.Add(time.Hour)
			for _, c := range cs {
				if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
					DeliveryID: c.Delivery.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: &next,
					Attempt: &store.Attempt{StartedAt: t0}, Now: t0,
				}); err != nil {
					return err
				}
			}
			_, err = st.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{TenantID: "acme", EndpointID: ep.ID, Now: t0, Batch: 1})
			return err
		}},
		{"a replay's batch", "deliveries_replay_failed", replayBatch(store.StatusFailed)},
		{"a replay's batch of delivered deliveries", "deliveries_list_endpoint", replayBatch(store.StatusDelivered)},
		{"the overview's finished counts", "deliveries_finished", func(ctx context.Context, st store.Store) error {
			_, err := st.DeliveryFinishedCounts(ctx, []store.Window{{Since: since, Until: until}, {Since: until, Until: until.Add(time.Hour)}})
			return err
		}},
		{"the overview's latencies", "deliveries_finished", func(ctx context.Context, st store.Store) error {
			_, err := st.DeliveryLatencies(ctx, since, 2000)
			return err
		}},
		{"the overview's disabled endpoints", "endpoints_disabled", func(ctx context.Context, st store.Store) error {
			_, err := st.EndpointListDisabled(ctx, 10)
			return err
		}},
		{"a retention batch", "events_list", func(ctx context.Context, st store.Store) error {
			if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "acme"}); err != nil {
				return err
			}
			// The tenant is found first; its walk, which finds nothing
			// here, is the last SELECT.
			_, err := st.EventDeleteFinished(ctx, &store.EventDeleteParams{Before: until, Limit: 10})
			return err
		}},
		{"deleted endpoints to purge", "endpoints_deleted", func(ctx context.Context, st store.Store) error {
			if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "acme"}); err != nil {
				return err
			}
			ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/", Events: []string{"*"}, Secret: "s", Enabled: true})
			if err != nil {
				return err
			}
			if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
				return err
			}
			// The search of the deleted ones is the last SELECT; the
			// delete after it names them.
			_, err = st.EndpointPurgeDeleted(ctx, 10)
			return err
		}},
	}
}

// replayBatch runs a replay's first batch of deliveries of status.
func replayBatch(status string) func(ctx context.Context, st store.Store) error {
	return func(ctx context.Context, st store.Store) error {
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "acme"}); err != nil {
			return err
		}
		ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/", Events: []string{"*"}, Secret: "s", Enabled: true})
		if err != nil {
			return err
		}
		until := t0.Add(time.Hour)
		r, err := st.ReplayCreate(ctx, &store.Replay{
			TenantID: "acme", EndpointID: ep.ID, Since: t0, Until: until, DeliveryStatus: status,
			LeaseOwner: "w", LeaseExpiresAt: &until,
		})
		if err != nil {
			return err
		}
		// After the walk it only updates: the walk is the last SELECT.
		_, err = st.ReplayStep(ctx, &store.ReplayStepParams{ID: r.ID, Owner: "w", Now: t0, LeaseUntil: until, Limit: 10})
		return err
	}
}
