package client

import (
	"context"
	"iter"
	"net/url"
	"time"
)

// Delivery statuses (see docs/delivery.md).
const (
	StatusPending    = "pending"    // waiting for its first attempt
	StatusDelivering = "delivering" // an attempt is in flight
	StatusRetrying   = "retrying"   // an attempt failed; the next is due at NextAttemptAt
	StatusDelivered  = "delivered"
	StatusFailed     = "failed" // retries spent or a final failure: the dead-letter state
)

// Delivery is one event at one endpoint. Attempts is set by Get only.
type Delivery struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	EndpointID   string `json:"endpoint_id"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	// NextAttemptAt is when the next attempt is due; nil when none is.
	NextAttemptAt    *time.Time `json:"next_attempt_at"`
	LastResponseCode int        `json:"last_response_code"`
	LastError        string     `json:"last_error"`
	// Error is the last attempt's error, or "endpoint_disabled" for a
	// delivery failed at once because its endpoint was disabled; nil when
	// there is none.
	Error *string `json:"error"`
	// EndpointDeleted is true when the delivery's endpoint was deleted:
	// it and its attempts are kept, nothing more is sent, and it cannot be
	// retried.
	EndpointDeleted bool      `json:"endpoint_deleted"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Attempts are the latest attempts, oldest first (Get only).
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	ID           string    `json:"id"`
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	ResponseCode int       `json:"response_code"` // 0 when there was no answer
	ResponseBody string    `json:"response_body"` // at most 4 KiB
	Error        string    `json:"error"`
}

// DeliveryListParams filters a list of deliveries, by each field that is
// set: Status (one of the Status constants), Endpoint (an endpoint id),
// Event (an event id), EventType (an exact type name), and the window of
// their creation, at or after Since and before Until.
type DeliveryListParams struct {
	ListParams
	Status    string
	Endpoint  string
	Event     string
	EventType string
	Since     time.Time
	Until     time.Time
}

func (p *DeliveryListParams) query() url.Values {
	if p == nil {
		return url.Values{}
	}
	q := p.ListParams.query()
	for k, v := range map[string]string{"status": p.Status, "endpoint": p.Endpoint, "event": p.Event, "event_type": p.EventType} {
		if v != "" {
			q.Set(k, v)
		}
	}
	setWindow(q, p.Since, p.Until)
	return q
}

// setWindow sets a list's since and until, each when not zero.
func setWindow(q url.Values, since, until time.Time) {
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	if !until.IsZero() {
		q.Set("until", until.UTC().Format(time.RFC3339Nano))
	}
}

// DeliveriesService is the calls on a tenant's deliveries.
type DeliveriesService struct{ c *Client }

// Get reads a delivery with its attempts.
func (s *DeliveriesService) Get(ctx context.Context, tenant, id string) (*Delivery, error) {
	return s.one(ctx, "GET", "tenants", tenant, "deliveries", id)
}

// Retry sends a delivery again now: a delivered or failed one starts one
// more attempt series, a retrying one has its next attempt brought to
// now. The answer is the delivery as it is then. A delivery with an
// attempt in flight, or of a deleted endpoint, is ErrConflict.
func (s *DeliveriesService) Retry(ctx context.Context, tenant, id string) (*Delivery, error) {
	return s.one(ctx, "POST", "tenants", tenant, "deliveries", id, "retry")
}

func (s *DeliveriesService) one(ctx context.Context, method string, segments ...string) (*Delivery, error) {
	path, err := path(segments...)
	if err != nil {
		return nil, err
	}
	var d Delivery
	if _, err := s.c.Do(ctx, method, path, nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// List reads one page of a tenant's deliveries, newest first.
func (s *DeliveriesService) List(ctx context.Context, tenant string, p *DeliveryListParams) (*Page[Delivery], error) {
	path, err := path("tenants", tenant, "deliveries")
	if err != nil {
		return nil, err
	}
	return getPage[Delivery](ctx, s.c, path, p.query())
}

// All iterates over every delivery of a tenant that p lets through,
// newest first.
func (s *DeliveriesService) All(ctx context.Context, tenant string, p *DeliveryListParams) iter.Seq2[Delivery, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Delivery], error) {
		var q DeliveryListParams
		if p != nil {
			q = *p
		}
		q.Cursor = cursor
		return s.List(ctx, tenant, &q)
	})
}
