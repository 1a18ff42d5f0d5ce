package eventtype

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Config wires a Service: the store keeps the catalog, the clock stamps creation and change
// times, the logger gets a line per type created, changed or deleted. Store is required.
type Config = service.Base

// Service keeps the event catalog and checks events against it.
type Service struct {
	service.Base
	schemas *schemaCache
	types   *typeCache // what CheckEvent reads; every write forgets its type
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	b := cfg.Init()
	return &Service{Base: b, schemas: newSchemaCache(), types: newTypeCache(b.Clock)}
}

// Params is an event type's fields as a PUT or a PATCH gives them: a field
// left nil keeps what is stored (or its zero value, for a type being
// created), so archiving a type keeps its description and schema.
type Params struct {
	// Name is dot-hierarchical: user.created, v1.case.completed.
	Name string
	// Description, when set, replaces the description.
	Description *string
	// Schema, when set, replaces the JSON Schema (2020-12 unless its
	// $schema says otherwise) of the events' data; JSON null removes it.
	Schema json.RawMessage
	// Archived, when set, archives the type (it takes no new events) or
	// brings it back.
	Archived *bool
}

// Put creates an event type, or changes the fields p sets of the one that
// exists, and reports whether it was created.
func (s *Service) Put(ctx context.Context, p *Params) (et *store.EventType, created bool, err error) {
	u, err := s.check(p)
	if err != nil {
		return nil, false, err
	}
	u.Create = true
	et, created, err = s.Store.EventTypeUpdate(ctx, u)
	s.types.forget(p.Name)
	if err != nil {
		return nil, false, fmt.Errorf("put event type %s: %w", p.Name, err)
	}
	s.Logger.Info("event type put", "name", et.Name, "created", created, "archived", et.Archived)
	return et, created, nil
}

// Patch changes the fields p sets of an event type that exists.
func (s *Service) Patch(ctx context.Context, p *Params) (*store.EventType, error) {
	u, err := s.check(p)
	if err != nil {
		return nil, err
	}
	et, _, err := s.Store.EventTypeUpdate(ctx, u)
	s.types.forget(p.Name)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return nil, herald.Errorf(herald.ErrNotFound, "event type %s not found", p.Name)
	case err != nil:
		return nil, fmt.Errorf("patch event type %s: %w", p.Name, err)
	}
	s.Logger.Info("event type patched", "name", et.Name, "archived", et.Archived)
	return et, nil
}

// Delete removes an event type from the catalog. Endpoint filters are
// patterns, not references (a filter "user.created" matches the type
// whether the catalog has it or not), and stored events keep their type's
// name, so nothing else changes: later events of the type are accepted
// unchecked, as for any type the catalog does not have.
func (s *Service) Delete(ctx context.Context, name string) error {
	err := s.Store.EventTypeDelete(ctx, name)
	s.types.forget(name)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return herald.Errorf(herald.ErrNotFound, "event type %s not found", name)
	case err != nil:
		return fmt.Errorf("delete event type %s: %w", name, err)
	}
	s.schemas.forget(name)
	s.Logger.Info("event type deleted", "name", name)
	return nil
}

// check validates p and returns the store's update of what it sets, at
// the service's time; faults are at "name", "description" and "schema".
func (s *Service) check(p *Params) (*store.EventTypeUpdateParams, error) {
	if !naming.EventType(p.Name) {
		return nil, herald.Invalid("name", "must be an event type name: segments of A-Z a-z 0-9 _ - separated by dots, at most %d characters", naming.MaxEventTypeLen)
	}
	u := &store.EventTypeUpdateParams{Name: p.Name, Description: p.Description, Archived: p.Archived, Now: s.Clock.Now()}
	var fe herald.Fields
	if p.Description != nil {
		fe.Text("description", *p.Description)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if p.Schema == nil {
		return u, nil
	}
	schema := bytes.TrimSpace(p.Schema)
	if string(schema) == "null" {
		schema = nil
	}
	if len(schema) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, schema); err != nil {
			return nil, herald.Invalid("schema", "is not valid JSON")
		}
		schema = buf.Bytes()
		if err := checkSchema(schema); err != nil {
			return nil, herald.Invalid("schema", "is not a valid JSON Schema: %s", err)
		}
	}
	raw := json.RawMessage(schema)
	u.Schema = &raw
	return u, nil
}

// Get returns an event type.
func (s *Service) Get(ctx context.Context, name string) (*store.EventType, error) {
	et, err := s.Store.EventTypeGet(ctx, name)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return nil, herald.Errorf(herald.ErrNotFound, "event type %s not found", name)
	case err != nil:
		return nil, fmt.Errorf("get event type %s: %w", name, err)
	}
	return et, nil
}

// List returns a page of the catalog (one more than p.Limit when there is
// a next page, as store lists do).
func (s *Service) List(ctx context.Context, p *store.ListParams) ([]*store.EventType, error) {
	rows, err := s.Store.EventTypeList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	return rows, nil
}

// CheckEvent holds an event's data (canonical JSON) to its type's schema
// when the catalog has the type, and refuses a type that is archived.
// Types not in the catalog are accepted: the catalog is optional. Faults
// are located as in the event: "type", "data.amount".
func (s *Service) CheckEvent(ctx context.Context, typ string, data []byte) error {
	et, err := s.types.get(ctx, s.Store, typ)
	switch {
	case err != nil:
		return fmt.Errorf("look up event type %s: %w", typ, err)
	case et == nil:
		return nil
	case et.Archived:
		return herald.Invalid("type", "event type %s is archived and takes no new events", typ)
	case len(et.Schema) == 0:
		return nil
	}
	sch, err := s.schemas.get(et)
	if err != nil {
		return err
	}
	return validateData(sch, data)
}
