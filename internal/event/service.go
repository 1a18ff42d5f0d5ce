package event

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/jsonstyle"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Config wires a Service. Store and Types are required.
type Config struct {
	// Base: the store keeps the events and their deliveries, the clock
	// stamps ids and creation times.
	service.Base
	// Types is the event catalog events are checked against.
	Types *eventtype.Service
	// BatchEvents and BatchBytes bound one group commit: how many events,
	// and how many bytes of their data, one transaction takes. 0 means
	// 256 events and 4 MiB.
	BatchEvents int
	BatchBytes  int
	// Writers is how many batches may commit at once; 0 means as many as
	// the store runs well (store.Writers: 1 on both databases).
	Writers int
	// Dispatcher, when set, takes new deliveries straight from ingest,
	// leased to it, up to the room it has (see store.HandOff); nil leaves
	// every delivery to the claim.
	Dispatcher Dispatcher
	// Accepted, when set, is told the tenant of every event Ingest
	// stores, once it is committed (not of a re-post of a stored event):
	// the metrics' count of accepted events.
	Accepted func(tenantID string)
}

// Service takes events in.
type Service struct {
	service.Base
	types    *eventtype.Service
	commit   *groupCommit
	accepted func(tenantID string)
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	base := cfg.Base.Init()
	accepted := cfg.Accepted
	if accepted == nil {
		accepted = func(string) {}
	}
	return &Service{Base: base, types: cfg.Types, commit: newGroupCommit(base.Store, cmp.Or(cfg.Writers, store.Writers(base.Store)), cfg.BatchEvents, cfg.BatchBytes, cfg.Dispatcher), accepted: accepted}
}

// IngestParams is an event a producer sends.
type IngestParams struct {
	// Type is the event type name, such as user.created.
	Type string
	// ID is the producer's own event id; "" means Herald makes one.
	ID string
	// Data is the event's JSON object as the producer wrote it.
	Data []byte
	// TraceID is the W3C trace id the event belongs to; "" means a new
	// trace.
	TraceID string
	// KeyID is the API key the event is posted with, when it was taken
	// from memory (apikey.Service.AuthenticateRecent): the transaction
	// storing the event checks that it still exists.
	KeyID string
}

// Ingest checks an event and stores it, durably before it returns, with a pending delivery for every
// enabled endpoint of the tenant that subscribes to its type. Reusing an id
// for the same type and data stores nothing new and returns the stored
// event (Created false); for anything else it is an ErrConflict.
func (s *Service) Ingest(ctx context.Context, tenantID string, p *IngestParams) (*store.EventCreateResult, error) {
	data, err := check(p)
	if err != nil {
		return nil, err
	}
	if err := s.types.CheckEvent(ctx, p.Type, data); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	ev := &store.Event{
		TenantID: tenantID, ID: p.ID, Type: p.Type, Data: data, Hash: store.EventHash(p.Type, data),
		TraceID: p.TraceID, Source: store.SourceAPI, CreatedAt: now,
	}
	if ev.ID == "" {
		ev.ID = id.NewAt(id.Event, now)
	}
	if ev.TraceID == "" {
		ev.TraceID = id.NewTraceID()
	}
	// Group commit: concurrent ingests share one transaction; see
	// committer. The answer comes only once this event's batch committed.
	res, err := s.commit.create(ctx, &store.EventCreateParams{Event: ev, KeyID: p.KeyID, Now: now})
	switch {
	case errors.Is(err, herald.ErrUnauthorized):
		return nil, herald.Errorf(herald.ErrUnauthorized, "the API key is not valid")
	case errors.Is(err, herald.ErrConflict):
		return nil, herald.Errorf(herald.ErrConflict, "event id %s was already used for a different type or data", ev.ID)
	case err != nil:
		return nil, fmt.Errorf("store event %s: %w", ev.ID, err)
	}
	if res.Created {
		s.accepted(tenantID)
	}
	return res, nil
}

// check validates an event's type, id and data and returns the data in
// the canonical compact form events are stored in. The data is parsed
// strictly from the producer's bytes: duplicate keys, invalid UTF-8, lone
// surrogates and numbers no float can hold are refused, so every body can
// later be written in every JSON style.
func check(p *IngestParams) ([]byte, error) {
	var fe herald.Fields
	if !naming.EventType(p.Type) {
		fe.Add("type", "must be an event type name: segments of A-Z a-z 0-9 _ - separated by dots, at most %d characters", naming.MaxEventTypeLen)
	}
	if p.ID != "" && !naming.EventID(p.ID) {
		fe.Add("id", "must be 1 to 128 of A-Z a-z 0-9 _ : - (no dots: the id is part of the signed content)")
	}
	data := readData(&fe, p.Data)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return data, nil
}

// readData reads an event's data strictly and returns it in canonical
// compact form, or adds its faults to fe (at "data", "data.<path>") and
// returns nil.
func readData(fe *herald.Fields, raw []byte) []byte {
	v, err := jsonstyle.Parse(raw)
	var se *jsonstyle.SyntaxError
	switch {
	case errors.As(err, &se):
		fe.Add(joinPath("data", se.Path), "%s", se.Msg)
	case err != nil:
		fe.Add("data", "%s", err.Error())
	case v.Kind != jsonstyle.Object:
		fe.Add("data", "must be a JSON object")
	default:
		return jsonstyle.Marshal(v, jsonstyle.Compact)
	}
	return nil
}

// joinPath appends a jsonstyle path ("items[3].name", "[0]", "") to loc.
func joinPath(loc, path string) string {
	switch {
	case path == "":
		return loc
	case strings.HasPrefix(path, "["):
		return loc + path
	}
	return loc + "." + path
}

// Get returns one of the tenant's events.
func (s *Service) Get(ctx context.Context, tenantID, eventID string) (*store.Event, error) {
	e, err := s.Store.EventGet(ctx, tenantID, eventID)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return nil, herald.Errorf(herald.ErrNotFound, "event %s not found", eventID)
	case err != nil:
		return nil, fmt.Errorf("get event %s: %w", eventID, err)
	}
	return e, nil
}

// List returns a page of the tenant's events, newest first (one more than
// the limit when there is a next page, as store lists do). A type filter
// that is no type name, and a window whose until is before its since, are
// refused at "type" and "until".
func (s *Service) List(ctx context.Context, tenantID string, p *store.EventListParams) ([]*store.Event, error) {
	var fe herald.Fields
	if p.Type != "" && !naming.EventType(p.Type) {
		fe.Add("type", "is not an event type name")
	}
	fe.Window("until", p.Since, p.Until)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	rows, err := s.Store.EventList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", tenantID, err)
	}
	return rows, nil
}

// TestParams is what a test send may choose of the event it sends; the
// zero value sends the format's test event.
type TestParams struct {
	// Type is an event type of the catalog; "" means the format's test
	// event type.
	Type string
	// Data is the event's JSON object as the caller wrote it; nil means
	// Herald's test data.
	Data []byte
}

// CheckTest checks the event a test send was asked for and returns its
// data in the canonical form events are stored in (nil when none was
// given). A test send shows a receiver what an event of the type will look
// like, so the type must be one the catalog has and that takes events (not
// archived), and the data must be what an ingest would take: a JSON object,
// read as strictly, matching the type's schema when it has one. Herald's
// own test data is made for the format's test event, so a type with a
// schema needs data of its own. Faults are at "type", "data" and
// "data.<path>".
func (s *Service) CheckTest(ctx context.Context, p *TestParams) ([]byte, error) {
	var fe herald.Fields
	var data []byte
	if p.Data != nil {
		data = readData(&fe, p.Data)
	}
	if p.Type == "" {
		return data, fe.Err()
	}
	if !naming.EventType(p.Type) {
		fe.Add("type", "must be an event type name: segments of A-Z a-z 0-9 _ - separated by dots, at most %d characters", naming.MaxEventTypeLen)
		return nil, fe.Err()
	}
	et, err := s.Store.EventTypeGet(ctx, p.Type)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		fe.Add("type", "event type %s is not in the event catalog; a test send takes a type of the catalog (PUT /api/v1/event-types/%s), or none for the format's test event", p.Type, p.Type)
		return nil, fe.Err()
	case err != nil:
		return nil, fmt.Errorf("look up event type %s: %w", p.Type, err)
	case len(et.Schema) > 0 && p.Data == nil:
		fe.Add("data", "is required: event type %s has a schema, and the test event's data must match it", p.Type)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if err := s.types.CheckEvent(ctx, p.Type, orEmpty(data)); err != nil {
		return nil, err
	}
	return data, nil
}

// orEmpty is data, or an empty object for none.
func orEmpty(data []byte) []byte {
	if data == nil {
		return []byte("{}")
	}
	return data
}
