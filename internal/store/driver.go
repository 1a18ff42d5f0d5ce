package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/id"
)

// What follows is what both drivers do in Go before they write a value and
// after they read one back. It lives here once so SQLite and PostgreSQL
// agree by construction; only the SQL, and how each database binds a time or
// a NULL, is the drivers' own.

// Timestamp is t as the drivers store and return every time: UTC, in whole
// microseconds (the precision of PostgreSQL's timestamptz; SQLite stores
// unix microseconds to match).
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Validate rejects a claim the engine must never ask for: Owner, Lease,
// Limit and PerEndpoint must all be set.
func (p *DeliveryClaimParams) Validate() error {
	if p.Owner == "" || p.Lease <= 0 || p.Limit <= 0 || p.PerEndpoint <= 0 {
		return fmt.Errorf("claim due deliveries: owner, lease, limit and per-endpoint cap must all be set (got %+v)", *p)
	}
	return nil
}

// Validate rejects outcomes the engine must never ask for: no attempt, no
// lease owner, a status that is not an outcome, or retrying with no time.
func (p *AttemptRecordParams) Validate() error {
	switch {
	case p.Attempt == nil:
		return fmt.Errorf("record attempt of delivery %q: no attempt given", p.DeliveryID)
	case p.Owner == "":
		return fmt.Errorf("record attempt of delivery %q: no lease owner given", p.DeliveryID)
	case p.Status == StatusRetrying && p.NextAttemptAt == nil:
		return fmt.Errorf("record attempt of delivery %q: retrying without a next attempt time", p.DeliveryID)
	case p.Status != StatusDelivered && p.Status != StatusRetrying && p.Status != StatusFailed:
		return fmt.Errorf("record attempt of delivery %q: status %q is not an attempt outcome", p.DeliveryID, p.Status)
	}
	return nil
}

// Validate rejects a batch of a replay the runner must never ask for: no
// replay, no lease owner, no lease or no limit.
func (p *ReplayStepParams) Validate() error {
	if p.ID == "" || p.Owner == "" || p.LeaseUntil.IsZero() || p.Limit <= 0 {
		return fmt.Errorf("replay step: id, owner, lease and limit must all be set (got %+v)", *p)
	}
	return nil
}

// ReplayStatusOK reports whether status is one a replay may select
// deliveries by: the final ones, failed and delivered.
func ReplayStatusOK(status string) bool {
	return status == StatusFailed || status == StatusDelivered
}

// ValidateComplete rejects completing a reservation without an answer:
// Status 0 is what marks a key in progress.
func (r *IdempotencyRecord) ValidateComplete() error {
	if r.Status <= 0 {
		return fmt.Errorf("complete idempotency key %q: status %d is not an answer", r.Key, r.Status)
	}
	return nil
}

// NewAttempt is the attempt p records, before the driver numbers it: a copy
// of p.Attempt for p.DeliveryID, its start in stored precision, and, unless
// it has an id, a new att_ id made at its start (at now if it has none).
// Call it only after Validate.
func (p *AttemptRecordParams) NewAttempt(now time.Time) Attempt {
	a := *p.Attempt
	a.DeliveryID = p.DeliveryID
	a.StartedAt = Timestamp(a.StartedAt)
	if a.ID == "" {
		at := a.StartedAt
		if at.IsZero() {
			at = now
		}
		a.ID = id.NewAt(id.Attempt, at)
	}
	return a
}

// NewEvent is the event p stores: a copy of p.Event with a new evt_ id made
// at now unless it has one, created at now unless it says when, its creation
// time in stored precision, and empty rather than nil data (the column is
// NOT NULL).
func (p *EventCreateParams) NewEvent(now time.Time) Event {
	ev := *p.Event
	if ev.ID == "" {
		ev.ID = id.NewAt(id.Event, now)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
	ev.CreatedAt = Timestamp(ev.CreatedAt)
	if ev.Data == nil {
		ev.Data = json.RawMessage{}
	}
	return ev
}

// NewDeliveries returns the deliveries of ev that EventCreate stores, one
// for each of endpointIDs in that order (nil for none), made at now, and
// when they are due. That is now for pending deliveries; with p.LeaseOwner
// set they are created leased to it (delivering, no next attempt to
// callers), and due, like every delivering row, when the lease expires:
// p.LeaseUntil.
func (p *EventCreateParams) NewDeliveries(ev *Event, endpointIDs []string, now time.Time) (ds []*Delivery, due time.Time) {
	status, next := StatusPending, &now
	due = now
	if p.LeaseOwner != "" {
		status, next = StatusDelivering, nil
		due = Timestamp(p.LeaseUntil)
	}
	for _, epID := range endpointIDs {
		ds = append(ds, &Delivery{
			ID: id.NewAt(id.Delivery, now), TenantID: ev.TenantID, EventID: ev.ID, EventType: ev.Type,
			EndpointID: epID, Status: status, NextAttemptAt: next,
			CreatedAt: now, UpdatedAt: now,
		})
	}
	return ds, due
}

// DisabledDeliveries returns the deliveries of ev to disabled endpoints
// that EventCreate stores, one for each of endpointIDs, made at now:
// failed, with no attempt and nothing due, their error
// ErrorEndpointDisabled.
func DisabledDeliveries(ev *Event, endpointIDs []string, now time.Time) []*Delivery {
	ds := make([]*Delivery, 0, len(endpointIDs))
	for _, epID := range endpointIDs {
		ds = append(ds, &Delivery{
			ID: id.NewAt(id.Delivery, now), TenantID: ev.TenantID, EventID: ev.ID, EventType: ev.Type,
			EndpointID: epID, Status: StatusFailed, LastError: ErrorEndpointDisabled,
			CreatedAt: now, UpdatedAt: now,
		})
	}
	return ds
}

// JSONObject is raw as the drivers store a metadata object: {} when the
// caller gave none.
func JSONObject(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// EndpointJSON is an endpoint's columns that both drivers keep as JSON text:
// text, not PostgreSQL's jsonb, so what the user gave comes back byte for
// byte (jsonb would reorder keys and rewrite numbers).
type EndpointJSON struct {
	Events   string // a JSON array of filters
	Headers  string // a JSON object
	Metadata string // a JSON object
}

// NewEndpointJSON encodes the JSON columns of e. Nil filters and headers are
// stored as empty ones, and no metadata as {}.
func NewEndpointJSON(e *Endpoint) EndpointJSON {
	filters, headers := e.Events, e.Headers
	if filters == nil {
		filters = []string{}
	}
	if headers == nil {
		headers = map[string]string{}
	}
	// Marshal cannot fail on a []string or a map[string]string: it
	// replaces invalid UTF-8 rather than refusing it.
	ev, _ := json.Marshal(filters)
	hd, _ := json.Marshal(headers)
	return EndpointJSON{Events: string(ev), Headers: string(hd), Metadata: JSONObject(e.Metadata)}
}

// Decode sets e's Events, Headers and Metadata from the stored columns;
// e.ID names the endpoint in the error when a column is not what
// NewEndpointJSON wrote.
func (j *EndpointJSON) Decode(e *Endpoint) error {
	events, err := DecodeFilters(e.ID, j.Events)
	if err != nil {
		return err
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(j.Headers), &headers); err != nil {
		return fmt.Errorf("endpoint %s: headers column: %w", e.ID, err)
	}
	e.Events, e.Headers, e.Metadata = events, headers, json.RawMessage(j.Metadata)
	return nil
}

// DecodeFilters decodes the stored events column of endpoint endpointID on
// its own, for EventCreate, which matches filters in Go with MatchEventType
// so both drivers agree exactly on what "a.*" means.
func DecodeFilters(endpointID, events string) ([]string, error) {
	var filters []string
	if err := json.Unmarshal([]byte(events), &filters); err != nil {
		return nil, fmt.Errorf("endpoint %s: events column: %w", endpointID, err)
	}
	return filters, nil
}
