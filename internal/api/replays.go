package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/store"
)

// replayObject is a replay as the API shows it.
type replayObject struct {
	ID         string        `json:"id" example:"rpl_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	TenantID   string        `json:"tenant_id"`
	EndpointID string        `json:"endpoint_id"`
	Status     string        `json:"status" enum:"running,done,failed" doc:"running until every delivery of the window has been looked at; failed when the endpoint was deleted meanwhile (see error)."`
	Queued     int           `json:"queued" doc:"Deliveries queued again so far."`
	Scanned    int           `json:"scanned" doc:"Deliveries of the window in the filter's status looked at so far, queued or not (another event type, or sent meanwhile)."`
	Through    *time.Time    `json:"scanned_through" doc:"The creation time of the last delivery looked at: the replay has gone through its window up to here. null before the first."`
	Since      time.Time     `json:"since"`
	Until      time.Time     `json:"until"`
	Filters    replayFilters `json:"filters"`
	Error      *string       `json:"error" doc:"Why a failed replay failed; null otherwise."`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	FinishedAt *time.Time    `json:"finished_at" doc:"When it became done or failed; null while running."`
}

// replayFilters are the filters a replay was started with.
type replayFilters struct {
	Status    string  `json:"status" enum:"failed,delivered"`
	EventType *string `json:"event_type" doc:"null for every type."`
}

func replayFrom(r *store.Replay) replayObject {
	out := replayObject{
		ID: r.ID, TenantID: r.TenantID, EndpointID: r.EndpointID, Status: r.Status, Queued: r.Queued, Scanned: r.Scanned,
		Since: r.Since.UTC(), Until: r.Until.UTC(), Filters: replayFilters{Status: r.DeliveryStatus},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.PositionID != "" {
		t := r.PositionAt.UTC()
		out.Through = &t
	}
	if r.EventType != "" {
		out.Filters.EventType = &r.EventType
	}
	if r.Error != "" {
		out.Error = &r.Error
	}
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	return out
}

type replayOutput struct {
	Body replayObject
}

type replayInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     struct {
		Since     time.Time  `json:"since" doc:"Replay deliveries created at or after this time."`
		Until     *time.Time `json:"until,omitempty" doc:"... and before this time; default now."`
		Status    string     `json:"status,omitempty" enum:"failed,delivered" doc:"The status of the deliveries to send again; default failed."`
		EventType string     `json:"event_type,omitempty" maxLength:"128" doc:"Only deliveries of this event type: an exact name, a.* or *; default every type."`
	}
}

type replayPath struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Replay string `path:"replay" doc:"Replay id (rpl_...)."`
}

type replayListInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Limit    int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor   string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
	Endpoint string `query:"endpoint" maxLength:"64" doc:"Only the replays of this endpoint."`
}

type endpointReplaysInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Limit    int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor   string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
}

func (s *Server) registerReplays() {
	const base = "/api/v1/tenants/{tenant}"
	tags := []string{"Replays"}
	register(s, huma.Operation{
		OperationID: "replay-endpoint", Method: http.MethodPost, Path: base + "/endpoints/{endpoint}/replay", Tags: tags,
		Summary: "Send an endpoint's failed (or delivered) deliveries of a time window again",
		Description: "Starts a replay job and answers with it, its first batch already queued: a small replay is done by then. " +
			"A longer one goes on in the background, in batches, on whichever node holds it; follow it with GET .../replays/{replay}.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound},
	}, scopeTenant, s.replayEndpoint)
	register(s, huma.Operation{
		OperationID: "get-replay", Method: http.MethodGet, Path: base + "/replays/{replay}", Tags: tags,
		Summary: "Get a replay and its progress", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *replayPath) (*replayOutput, error) {
		r, err := s.replays.Get(ctx, in.Tenant, in.Replay)
		if err != nil {
			return nil, err
		}
		return &replayOutput{Body: replayFrom(r)}, nil
	})
	register(s, huma.Operation{
		OperationID: "list-replays", Method: http.MethodGet, Path: base + "/replays", Tags: tags,
		Summary: "List replays", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *replayListInput) (*pageOutput[replayObject], error) {
		return s.listReplays(ctx, in.Tenant, in.Limit, in.Cursor, in.Endpoint)
	})
	register(s, huma.Operation{
		OperationID: "list-endpoint-replays", Method: http.MethodGet, Path: base + "/endpoints/{endpoint}/replays", Tags: tags,
		Summary: "List an endpoint's replays", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointReplaysInput) (*pageOutput[replayObject], error) {
		if _, err := s.endpoints.Get(ctx, in.Tenant, in.Endpoint); err != nil {
			return nil, err
		}
		return s.listReplays(ctx, in.Tenant, in.Limit, in.Cursor, in.Endpoint)
	})
}

func (s *Server) replayEndpoint(ctx context.Context, in *replayInput) (*replayOutput, error) {
	b := &in.Body
	r, err := s.replays.Start(ctx, in.Tenant, in.Endpoint, &replay.StartParams{
		Since: b.Since, Until: b.Until, Status: b.Status, EventType: b.EventType,
	})
	if err != nil {
		return nil, inBody(err)
	}
	return &replayOutput{Body: replayFrom(r)}, nil
}

func (s *Server) listReplays(ctx context.Context, tenantID string, limit int, cursor, endpointID string) (*pageOutput[replayObject], error) {
	p, err := s.listParams(limit, cursor)
	if err != nil {
		return nil, err
	}
	rows, err := s.replays.List(ctx, tenantID, &store.ReplayListParams{ListParams: p, EndpointID: endpointID})
	if err != nil {
		return nil, err
	}
	return pageOf(rows, &p, replayFrom), nil
}
