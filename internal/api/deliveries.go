package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// delivery is one event at one endpoint, as lists show it.
type delivery struct {
	ID               string     `json:"id" example:"dlv_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	EventID          string     `json:"event_id"`
	EventType        string     `json:"event_type"`
	EndpointID       string     `json:"endpoint_id"`
	Status           string     `json:"status" enum:"pending,delivering,retrying,delivered,failed"`
	AttemptCount     int        `json:"attempt_count" doc:"Attempts made in all, across retries."`
	NextAttemptAt    *time.Time `json:"next_attempt_at" doc:"When the next attempt is due; null when none is."`
	LastResponseCode int        `json:"last_response_code" doc:"The last attempt's HTTP status; 0 when it got no response or there was none."`
	LastError        string     `json:"last_error"`
	Error            *string    `json:"error" doc:"The last attempt's error, or endpoint_disabled for a delivery made failed because its endpoint was disabled when its event came; null when there is none."`
	EndpointDeleted  bool       `json:"endpoint_deleted" doc:"true when its endpoint was deleted: the delivery and its attempts are kept, nothing more is sent, and it cannot be retried."`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// deliveryDetail is a delivery with its attempts (GET .../deliveries/{id}).
// It repeats delivery's fields rather than embed it: huma documents only
// exported embedded types.
type deliveryDetail struct {
	ID               string     `json:"id" example:"dlv_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	EventID          string     `json:"event_id"`
	EventType        string     `json:"event_type"`
	EndpointID       string     `json:"endpoint_id"`
	Status           string     `json:"status" enum:"pending,delivering,retrying,delivered,failed"`
	AttemptCount     int        `json:"attempt_count" doc:"Attempts made in all, across retries."`
	NextAttemptAt    *time.Time `json:"next_attempt_at" doc:"When the next attempt is due; null when none is."`
	LastResponseCode int        `json:"last_response_code" doc:"The last attempt's HTTP status; 0 when it got no response or there was none."`
	LastError        string     `json:"last_error"`
	Error            *string    `json:"error" doc:"The last attempt's error, or endpoint_disabled for a delivery made failed because its endpoint was disabled when its event came; null when there is none."`
	EndpointDeleted  bool       `json:"endpoint_deleted" doc:"true when its endpoint was deleted: the delivery and its attempts are kept, nothing more is sent, and it cannot be retried."`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Attempts         []attempt  `json:"attempts" nullable:"false" doc:"The latest attempts, oldest first, up to 4 MiB of them in all; when older ones are left out there are fewer than attempt_count."`
}

// attempt is one HTTP request made for a delivery.
type attempt struct {
	ID           string    `json:"id" example:"att_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	ResponseCode int       `json:"response_code" doc:"0 when there was no response."`
	ResponseBody string    `json:"response_body" doc:"At most 4 KiB."`
	Error        string    `json:"error"`
}

func deliveryFrom(d *store.Delivery) delivery {
	out := delivery{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, EndpointID: d.EndpointID, Status: d.Status,
		AttemptCount: d.Attempts, LastResponseCode: d.LastStatusCode, LastError: d.LastError,
		EndpointDeleted: d.EndpointDeleted, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.LastError != "" {
		out.Error = &d.LastError
	}
	if d.NextAttemptAt != nil && (d.Status == store.StatusPending || d.Status == store.StatusRetrying) {
		t := d.NextAttemptAt.UTC()
		out.NextAttemptAt = &t
	}
	return out
}

func deliveryDetailFrom(d *store.Delivery, atts []*store.Attempt) deliveryDetail {
	b := deliveryFrom(d)
	out := deliveryDetail{
		ID: b.ID, EventID: b.EventID, EventType: b.EventType, EndpointID: b.EndpointID, Status: b.Status,
		AttemptCount: b.AttemptCount, NextAttemptAt: b.NextAttemptAt, LastResponseCode: b.LastResponseCode,
		LastError: b.LastError, Error: b.Error, EndpointDeleted: b.EndpointDeleted, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
		Attempts: make([]attempt, 0, len(atts)),
	}
	for _, a := range atts {
		out.Attempts = append(out.Attempts, attempt{
			ID: a.ID, Number: a.Number, StartedAt: a.StartedAt.UTC(), DurationMS: a.DurationMS,
			ResponseCode: a.ResponseCode, ResponseBody: a.ResponseBody, Error: a.Error,
		})
	}
	return out
}

type deliveryPath struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Delivery string `path:"delivery" doc:"Delivery id (dlv_...)."`
}

type deliveryListInput struct {
	Tenant    string    `path:"tenant" doc:"Tenant id."`
	Limit     int       `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor    string    `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
	Status    string    `query:"status" enum:"pending,delivering,retrying,delivered,failed" doc:"Only deliveries in this status."`
	Endpoint  string    `query:"endpoint" maxLength:"128" doc:"Only deliveries to this endpoint."`
	Event     string    `query:"event" maxLength:"128" doc:"Only deliveries of this event."`
	EventType string    `query:"event_type" maxLength:"128" doc:"Only deliveries of events of this type (an exact name)."`
	Since     time.Time `query:"since" doc:"Only deliveries created at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only deliveries created before this time (RFC 3339); not before since."`
}

type endpointDeliveriesInput struct {
	Tenant    string    `path:"tenant" doc:"Tenant id."`
	Endpoint  string    `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Limit     int       `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor    string    `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
	Status    string    `query:"status" enum:"pending,delivering,retrying,delivered,failed" doc:"Only deliveries in this status."`
	EventType string    `query:"event_type" maxLength:"128" doc:"Only deliveries of events of this type (an exact name)."`
	Since     time.Time `query:"since" doc:"Only deliveries created at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only deliveries created before this time (RFC 3339); not before since."`
}

type deliveryOutput struct {
	Body delivery
}

type deliveryDetailOutput struct {
	Body deliveryDetail
}

func (s *Server) registerDeliveries() {
	const base = "/api/v1/tenants/{tenant}/deliveries"
	tags := []string{"Deliveries"}
	register(s, huma.Operation{
		OperationID: "list-deliveries", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List deliveries", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *deliveryListInput) (*pageOutput[delivery], error) {
		return s.listDeliveries(ctx, in.Tenant, in.Limit, in.Cursor, &store.DeliveryListParams{
			Status: in.Status, EndpointID: in.Endpoint, EventID: in.Event, EventType: in.EventType, Since: in.Since, Until: in.Until,
		})
	})
	register(s, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: base + "/{delivery}", Tags: tags,
		Summary: "Get a delivery with its attempts", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *deliveryPath) (*deliveryDetailOutput, error) {
		d, atts, err := s.deliveries.Get(ctx, in.Tenant, in.Delivery, s.pageBytes)
		if err != nil {
			return nil, err
		}
		return &deliveryDetailOutput{Body: deliveryDetailFrom(d, atts)}, nil
	})
	register(s, huma.Operation{
		OperationID: "retry-delivery", Method: http.MethodPost, Path: base + "/{delivery}/retry", Tags: tags,
		Summary:       "Send a delivery again now",
		Description:   "A delivered or failed delivery starts one more attempt series; a pending or retrying one has its next attempt brought to now, going on with its series. One with an attempt in flight is 409.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, scopeTenant, func(ctx context.Context, in *deliveryPath) (*deliveryOutput, error) {
		d, err := s.deliveries.Retry(ctx, in.Tenant, in.Delivery)
		if err != nil {
			return nil, err
		}
		return &deliveryOutput{Body: deliveryFrom(d)}, nil
	})
}

func (s *Server) listDeliveries(ctx context.Context, tenant string, limit int, cursor string, p *store.DeliveryListParams) (*pageOutput[delivery], error) {
	lp, err := s.listParams(limit, cursor)
	if err != nil {
		return nil, err
	}
	p.ListParams = lp
	rows, err := s.deliveries.List(ctx, tenant, p)
	if err != nil {
		return nil, inQuery(err)
	}
	return pageOf(rows, &p.ListParams, deliveryFrom), nil
}

// inQuery places a service's field errors in the query, where the API's
// list filters are ("until" is at "query.until").
func inQuery(err error) error {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return ve.Prefix("query")
	}
	return err
}
