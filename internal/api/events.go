package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	eventsvc "github.com/heraldhq/herald/internal/event"
	"github.com/heraldhq/herald/internal/store"
)

// event is a stored event as the API shows it.
type event struct {
	ID        string     `json:"id" example:"evt_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Type      string     `json:"type" example:"user.created"`
	Data      jsonObject `json:"data"`
	TraceID   string     `json:"trace_id" doc:"W3C trace id of the ingest request, or a random one."`
	Source    string     `json:"source" enum:"api,test,failure" doc:"Why the event exists: posted, a test send, or a delivery failure notice."`
	CreatedAt time.Time  `json:"created_at"`
}

// listDataMax is the most data a list shows of one event unless it is
// asked for all of it (?include=data): an event posted with a megabyte of
// data would otherwise make a page of a few events megabytes long (issue
// 10 met a 1.9 MB page of two). At 64 KiB a default page of 50 events stays
// under the page's byte budget. A larger event is listed with "data": null
// and data_truncated set; GET the event for its data.
const listDataMax = 64 << 10

// eventListed is an event as a list shows it: the event, its data whole
// unless larger than listDataMax and not asked for, and how large it is.
// It repeats event's fields rather than embed it: huma documents only
// exported embedded types.
type eventListed struct {
	ID            string     `json:"id" example:"evt_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Type          string     `json:"type" example:"user.created"`
	Data          listedData `json:"data" doc:"The event's data; null when data_truncated."`
	DataTruncated bool       `json:"data_truncated" doc:"The data is larger than 64 KiB and left out of the list: GET the event for it, or list with ?include=data."`
	DataBytes     int        `json:"data_bytes" doc:"The size of the data in bytes, as stored (compact JSON)."`
	TraceID       string     `json:"trace_id" doc:"W3C trace id of the ingest request, or a random one."`
	Source        string     `json:"source" enum:"api,test,failure" doc:"Why the event exists: posted, a test send, or a delivery failure notice."`
	CreatedAt     time.Time  `json:"created_at"`
}

// listedData is an event's data in a list: an object, or null when left
// out.
type listedData json.RawMessage

// Schema documents the value as an object or null.
func (listedData) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true, Nullable: true}
}

// MarshalJSON writes the data, or null for none.
func (d listedData) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("null"), nil
	}
	return d, nil
}

// eventsListed converts a list's events, leaving out the data of those
// larger than listDataMax unless all is asked for.
func eventsListed(all bool) func(*store.Event) eventListed {
	return func(e *store.Event) eventListed {
		out := eventListed{
			ID: e.ID, Type: e.Type, Data: listedData(e.Data), DataBytes: len(e.Data),
			TraceID: e.TraceID, Source: e.Source, CreatedAt: e.CreatedAt.UTC(),
		}
		if !all && len(e.Data) > listDataMax {
			out.Data, out.DataTruncated = nil, true
		}
		return out
	}
}

func eventFrom(e *store.Event) event {
	return event{ID: e.ID, Type: e.Type, Data: jsonObject(e.Data), TraceID: e.TraceID, Source: e.Source, CreatedAt: e.CreatedAt.UTC()}
}

// eventAccepted is the answer to an ingest: 202 when the event is new, 200
// when the id was already used for the same type and data.
type eventAccepted struct {
	ID         string    `json:"id" example:"evt_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Type       string    `json:"type" example:"user.created"`
	CreatedAt  time.Time `json:"created_at"`
	TraceID    string    `json:"trace_id"`
	Deliveries int       `json:"deliveries" doc:"How many endpoints the event goes to."`
}

type eventCreateInput struct {
	Tenant      string `path:"tenant" doc:"Tenant id."`
	Traceparent string `header:"traceparent" doc:"W3C trace context; its trace id is kept with the event."`
	Body        eventCreateBody
}

// eventCreateBody is the body of create-event, which checkEventBody checks
// before huma reads it (readChecked).
type eventCreateBody struct {
	Type string     `json:"type" maxLength:"128" example:"user.created"`
	Data jsonObject `json:"data" doc:"Any JSON object; numbers are kept exactly as written."`
	ID   string     `json:"id,omitempty" maxLength:"128" doc:"Your own event id (1 to 128 of A-Z a-z 0-9 _ : -); generated when absent."`
}

type eventAcceptedOutput struct {
	Status int
	Body   eventAccepted
}

type eventPath struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Event  string `path:"event" doc:"Event id."`
}

type eventListInput struct {
	Tenant    string    `path:"tenant" doc:"Tenant id."`
	Limit     int       `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor    string    `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
	Type      string    `query:"type" maxLength:"128" doc:"Only events of this type (an exact name)."`
	EventType string    `query:"event_type" maxLength:"128" doc:"The same filter as type, by the name the deliveries list gives it."`
	Since     time.Time `query:"since" doc:"Only events created at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only events created before this time (RFC 3339); not before since."`
	// Include is the opt-in to every event's data whole.
	Include string `query:"include" enum:"data" doc:"data: every event's data whole, however large; without it an event's data larger than 64 KiB is left out (data_truncated)."`
}

type eventDeliveriesInput struct {
	Tenant string    `path:"tenant" doc:"Tenant id."`
	Event  string    `path:"event" doc:"Event id."`
	Limit  int       `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor string    `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
	Status string    `query:"status" enum:"pending,delivering,retrying,delivered,failed" doc:"Only deliveries in this status."`
	Since  time.Time `query:"since" doc:"Only deliveries created at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only deliveries created before this time (RFC 3339); not before since."`
}

type eventOutput struct {
	Body event
}

func (s *Server) registerEvents() {
	const base = "/api/v1/tenants/{tenant}/events"
	tags := []string{"Events"}
	register(s, huma.Operation{
		OperationID: "create-event", Method: http.MethodPost, Path: base, Tags: tags,
		Summary:       "Send an event",
		Description:   "Answers once the event and its deliveries are durably stored. Reusing an id answers 200 with the stored event when type and data match, 409 when they do not.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound, http.StatusConflict},
		Responses: map[string]*huma.Response{
			"200": {Description: "The id was already used for this event; nothing new was stored."},
		},
		Metadata:         map[string]any{metaKeyAtCommit: true, metaBodyCheck: checkEventBody},
		SkipValidateBody: true,
	}, scopeTenant, s.createEvent)
	copyResponse(s.api.OpenAPI(), base, http.MethodPost, "202", "200")
	register(s, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List events", Errors: []int{http.StatusNotFound},
	}, scopeTenant, s.listEvents)
	register(s, huma.Operation{
		OperationID: "get-event", Method: http.MethodGet, Path: base + "/{event}", Tags: tags,
		Summary: "Get an event", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *eventPath) (*eventOutput, error) {
		e, err := s.events.Get(ctx, in.Tenant, in.Event)
		if err != nil {
			return nil, err
		}
		return &eventOutput{Body: eventFrom(e)}, nil
	})
	register(s, huma.Operation{
		OperationID: "list-event-deliveries", Method: http.MethodGet, Path: base + "/{event}/deliveries", Tags: tags,
		Summary: "List an event's deliveries", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *eventDeliveriesInput) (*pageOutput[delivery], error) {
		if _, err := s.events.Get(ctx, in.Tenant, in.Event); err != nil {
			return nil, err
		}
		return s.listDeliveries(ctx, in.Tenant, in.Limit, in.Cursor, &store.DeliveryListParams{
			Status: in.Status, EventID: in.Event, Since: in.Since, Until: in.Until,
		})
	})
}

func (s *Server) listEvents(ctx context.Context, in *eventListInput) (*pageOutput[eventListed], error) {
	typ, typeParam := in.Type, "type"
	if in.EventType != "" {
		if typ != "" && typ != in.EventType {
			return nil, herald.Invalid("query.event_type", "is another name of type, which says %q; give one of them", typ)
		}
		typ, typeParam = in.EventType, "event_type"
	}
	p, err := s.listParams(in.Limit, in.Cursor)
	if err != nil {
		return nil, err
	}
	rows, err := s.events.List(ctx, in.Tenant, &store.EventListParams{ListParams: p, Type: typ, Since: in.Since, Until: in.Until})
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		// The type filter is at the name the client gave it.
		for i := range ve.Fields {
			if ve.Fields[i].Location == "type" {
				ve.Fields[i].Location = typeParam
			}
		}
		return nil, ve.Prefix("query")
	}
	if err != nil {
		return nil, err
	}
	return pageOf(rows, &p, eventsListed(in.Include == "data")), nil
}

func (s *Server) createEvent(ctx context.Context, in *eventCreateInput) (*eventAcceptedOutput, error) {
	b := &in.Body
	res, err := s.events.Ingest(ctx, in.Tenant, &eventsvc.IngestParams{
		Type: b.Type, ID: b.ID, Data: b.Data, TraceID: traceID(in.Traceparent),
		KeyID: principalFrom(ctx).KeyID,
	})
	if err != nil {
		return nil, inBody(err)
	}
	out := &eventAcceptedOutput{Status: http.StatusAccepted, Body: eventAccepted{
		ID: res.Event.ID, Type: res.Event.Type, CreatedAt: res.Event.CreatedAt.UTC(),
		TraceID: res.Event.TraceID, Deliveries: len(res.Deliveries),
	}}
	if !res.Created {
		out.Status = http.StatusOK
	}
	return out, nil
}

// traceID takes the trace id of a W3C traceparent header
// ("00-<32 hex>-<16 hex>-<2 hex>"), or "" when the header is absent or
// invalid, which starts a new trace.
func traceID(traceparent string) string {
	p := strings.Split(strings.TrimSpace(traceparent), "-")
	valid := len(p) >= 4 &&
		len(p[0]) == 2 && isLowerHex(p[0]) && p[0] != "ff" && (p[0] != "00" || len(p) == 4) &&
		len(p[1]) == 32 && isLowerHex(p[1]) && strings.Trim(p[1], "0") != "" &&
		len(p[2]) == 16 && isLowerHex(p[2]) && strings.Trim(p[2], "0") != "" &&
		len(p[3]) == 2 && isLowerHex(p[3])
	if !valid {
		return ""
	}
	return p[1]
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
