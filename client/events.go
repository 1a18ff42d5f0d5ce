package client

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Event is a stored event.
type Event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Data is the event's data as stored, numbers exactly as written. In a
	// list it is null when DataTruncated is set.
	Data json.RawMessage `json:"data"`
	// DataTruncated is set in a list for an event whose data is larger
	// than a list shows, 64 KiB (EventListParams.IncludeData lifts the
	// cap); Get the event for its data.
	DataTruncated bool `json:"data_truncated,omitempty"`
	// DataBytes is the size of the data as stored, in a list (Get leaves
	// it 0).
	DataBytes int       `json:"data_bytes,omitempty"`
	TraceID   string    `json:"trace_id"`
	Source    string    `json:"source"` // "api", "test" or "failure"
	CreatedAt time.Time `json:"created_at"`
}

// EventSendParams is an event to send.
type EventSendParams struct {
	// Type is the event type, such as "user.created".
	Type string `json:"type"`
	// Data is the event's data: any value encoding/json writes as a JSON
	// object (a map, a struct), or a json.RawMessage or []byte holding
	// one, which is sent as it is (so numbers stay exactly as written).
	Data any `json:"data"`
	// ID is your own id of the event (1 to 128 of A-Z a-z 0-9 _ : -), or
	// "" for a generated one. Sending an event under an id already used
	// stores nothing new: see EventAccepted.Duplicate.
	ID string `json:"id,omitempty"`
}

// EventAccepted is the answer to Send: the event is stored, with one
// delivery for each of Deliveries endpoints.
type EventAccepted struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	TraceID    string    `json:"trace_id"`
	Deliveries int       `json:"deliveries"`
	// Duplicate is true when the id was already used for this same event
	// (the server answered 200, not 202): nothing new was stored.
	Duplicate bool `json:"-"`
}

// EventListParams filters a list of events.
type EventListParams struct {
	ListParams
	// Type, when set, lists only events of this type (an exact name).
	Type string
	// Since and Until, when set, list only events created at or after
	// Since and before Until.
	Since, Until time.Time
	// IncludeData lists every event's data whole, however large, where a
	// list otherwise leaves out the data of large events
	// (Event.DataTruncated).
	IncludeData bool
}

// EventsService is the calls on a tenant's events.
type EventsService struct{ c *Client }

// Send sends an event to tenant: it returns once the event and its
// deliveries are durably stored. An id reused with another type or data
// is ErrConflict.
func (s *EventsService) Send(ctx context.Context, tenant string, e *EventSendParams) (*EventAccepted, error) {
	path, err := path("tenants", tenant, "events")
	if err != nil {
		return nil, err
	}
	body := *e
	if b, ok := e.Data.([]byte); ok {
		body.Data = json.RawMessage(b)
	}
	var a EventAccepted
	status, err := s.c.Do(ctx, "POST", path, nil, &body, &a)
	if err != nil {
		return nil, err
	}
	a.Duplicate = status == http.StatusOK
	return &a, nil
}

// Get reads an event, with its data whole.
func (s *EventsService) Get(ctx context.Context, tenant, id string) (*Event, error) {
	path, err := path("tenants", tenant, "events", id)
	if err != nil {
		return nil, err
	}
	var e Event
	if _, err := s.c.Do(ctx, "GET", path, nil, nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

func (p *EventListParams) query() url.Values {
	if p == nil {
		return url.Values{}
	}
	q := p.ListParams.query()
	if p.Type != "" {
		q.Set("type", p.Type)
	}
	if p.IncludeData {
		q.Set("include", "data")
	}
	setWindow(q, p.Since, p.Until)
	return q
}

// List reads one page of a tenant's events, newest first.
func (s *EventsService) List(ctx context.Context, tenant string, p *EventListParams) (*Page[Event], error) {
	path, err := path("tenants", tenant, "events")
	if err != nil {
		return nil, err
	}
	return getPage[Event](ctx, s.c, path, p.query())
}

// All iterates over every event of a tenant that p lets through, newest
// first.
func (s *EventsService) All(ctx context.Context, tenant string, p *EventListParams) iter.Seq2[Event, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Event], error) {
		var q EventListParams
		if p != nil {
			q = *p
		}
		q.Cursor = cursor
		return s.List(ctx, tenant, &q)
	})
}

// Deliveries reads one page of an event's deliveries, newest first; p
// may filter by Status (its Endpoint and Event must be empty: use
// Deliveries.List for those).
func (s *EventsService) Deliveries(ctx context.Context, tenant, id string, p *DeliveryListParams) (*Page[Delivery], error) {
	if p != nil && (p.Endpoint != "" || p.Event != "") {
		return nil, errors.New("herald client: Events.Deliveries takes no Endpoint or Event filter; use Deliveries.List")
	}
	path, err := path("tenants", tenant, "events", id, "deliveries")
	if err != nil {
		return nil, err
	}
	return getPage[Delivery](ctx, s.c, path, p.query())
}
