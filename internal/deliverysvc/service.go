package deliverysvc

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
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
// than p.Limit when there is a next page, as store lists do).
func (s *Service) List(ctx context.Context, tenantID string, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	rows, err := s.Store.DeliveryList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", tenantID, err)
	}
	return rows, nil
}

// Retry starts one more attempt series for a delivery that was delivered
// or failed. One still pending, delivering or retrying is a conflict: it
// has attempts to come already.
func (s *Service) Retry(ctx context.Context, tenantID, deliveryID string) (*store.Delivery, error) {
	d, err := s.Store.DeliveryRetry(ctx, tenantID, deliveryID, s.Clock.Now())
	switch {
	case err == nil:
		return d, nil
	case !errors.Is(err, herald.ErrConflict):
		return nil, notFound(err, deliveryID)
	}
	// Refused: read it only now, to say what it is doing.
	cur, err := s.Store.DeliveryGet(ctx, tenantID, deliveryID)
	switch {
	case err != nil:
		return nil, notFound(err, deliveryID)
	case cur.Status == store.StatusDelivered || cur.Status == store.StatusFailed:
		// It was retried and finished between the two calls.
		return nil, stillGoing(deliveryID, "in progress")
	}
	return nil, stillGoing(deliveryID, cur.Status)
}

func stillGoing(deliveryID, status string) error {
	return herald.Errorf(herald.ErrConflict, "delivery %s is still %s; only a delivered or failed delivery can be retried", deliveryID, status)
}

// notFound restates a lookup's ErrNotFound as "delivery <id> not found"
// and wraps anything else.
func notFound(err error, deliveryID string) error {
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Errorf(herald.ErrNotFound, "delivery %s not found", deliveryID)
	}
	return fmt.Errorf("delivery %s: %w", deliveryID, err)
}
