package deliverysvc

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Service reads and retries a tenant's deliveries.
type Service struct {
	service.Base
}

// NewService returns a Service over b's store; b's clock is the time of a
// retry. It does no I/O.
func NewService(b *service.Base) *Service {
	return &Service{Base: b.Init()}
}

// Get returns one of the tenant's deliveries and its latest attempts,
// oldest first, as many as fit in attemptBytes (0 means
// store.DefaultPageBytes; the latest always). When older attempts are left
// out, there are fewer than the delivery's Attempts.
func (s *Service) Get(ctx context.Context, tenantID, deliveryID string, attemptBytes int) (*store.Delivery, []*store.Attempt, error) {
	d, err := s.Store.DeliveryGet(ctx, tenantID, deliveryID)
	if err != nil {
		return nil, nil, notFound(err, deliveryID)
	}
	atts, err := s.Store.DeliveryAttemptsLatest(ctx, d.ID, attemptBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	return d, atts, nil
}

// List returns a page of the tenant's deliveries, newest first (one more
// than p.Limit when there is a next page, as store lists do). An event
// type filter that is no type name, and a window whose until is before its
// since, are refused at "event_type" and "until".
func (s *Service) List(ctx context.Context, tenantID string, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	var fe herald.Fields
	if p.EventType != "" && !naming.EventType(p.EventType) {
		fe.Add("event_type", "is not an event type name")
	}
	fe.Window("until", p.Since, p.Until)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	rows, err := s.Store.DeliveryList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", tenantID, err)
	}
	return rows, nil
}

// Retry sends a delivery again now. One that was delivered or failed
// starts another attempt series, on its format's schedule from the start;
// one that is waiting (pending, or retrying on its schedule) has its next
// attempt brought to now and goes on with its series. One with an attempt
// in flight is a conflict, and so is one whose endpoint was deleted
// (nothing more is sent to it). The workers are woken either way.
func (s *Service) Retry(ctx context.Context, tenantID, deliveryID string) (*store.Delivery, error) {
	d, err := s.Store.DeliveryRetry(ctx, tenantID, deliveryID, s.Clock.Now())
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, herald.ErrConflict):
		if cur, gerr := s.Store.DeliveryGet(ctx, tenantID, deliveryID); gerr == nil && cur.EndpointDeleted {
			return nil, herald.Errorf(herald.ErrConflict, "delivery %s cannot be retried: its endpoint %s was deleted", deliveryID, cur.EndpointID)
		}
		return nil, herald.Errorf(herald.ErrConflict,
			"delivery %s has an attempt in flight; retry it once that attempt is over", deliveryID)
	}
	return nil, notFound(err, deliveryID)
}

// RetryNow brings the next attempt of every retrying delivery of the
// endpoint that is due later to now, each going on with its series, and
// returns how many it moved: after a receiver is fixed, its backlog need
// not wait out a schedule of hours. It runs in batches (see
// store.DeliveryRetryNow), so on a failure part of the backlog may have
// moved; running it again moves the rest.
func (s *Service) RetryNow(ctx context.Context, tenantID, endpointID string) (int, error) {
	n, err := s.Store.DeliveryRetryNow(ctx, &store.DeliveryRetryNowParams{
		TenantID: tenantID, EndpointID: endpointID, Now: s.Clock.Now(),
	})
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return 0, herald.Errorf(herald.ErrNotFound, "endpoint %s not found", endpointID)
	case err != nil:
		return n, fmt.Errorf("retry now the deliveries of endpoint %s (%d moved): %w", endpointID, n, err)
	}
	return n, nil
}

// notFound restates a lookup's ErrNotFound as "delivery <id> not found"
// and wraps anything else.
func notFound(err error, deliveryID string) error {
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Errorf(herald.ErrNotFound, "delivery %s not found", deliveryID)
	}
	return fmt.Errorf("delivery %s: %w", deliveryID, err)
}
