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
// times, the logger gets a line per type created or replaced. Store is required.
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

// PutParams is an event type to create or replace.
type PutParams struct {
	// Name is dot-hierarchical: user.created, v1.case.completed.
	Name        string
	Description string
	// Schema is a JSON Schema (2020-12 unless its $schema says otherwise)
	// for the events' data; empty or null means none.
	Schema json.RawMessage
	// Archived types take no new events.
	Archived bool
}

// Put creates or replaces an event type, and reports whether it was
// created.
func (s *Service) Put(ctx context.Context, p *PutParams) (et *store.EventType, created bool, err error) {
	if !naming.EventType(p.Name) {
		return nil, false, herald.Invalid("name", "must be an event type name: segments of A-Z a-z 0-9 _ - separated by dots, at most %d characters", naming.MaxEventTypeLen)
	}
	var fe herald.Fields
	if fe.Text("description", p.Description); fe.Err() != nil {
		return nil, false, fe.Err()
	}
	schema := bytes.TrimSpace(p.Schema)
	if string(schema) == "null" {
		schema = nil
	}
	if len(schema) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, schema); err != nil {
			return nil, false, herald.Invalid("schema", "is not valid JSON")
		}
		schema = buf.Bytes()
		if err := checkSchema(schema); err != nil {
			return nil, false, herald.Invalid("schema", "is not a valid JSON Schema: %s", err)
		}
	}
	_, err = s.Store.EventTypeGet(ctx, p.Name)
	created = errors.Is(err, herald.ErrNotFound)
	if err != nil && !created {
		return nil, false, fmt.Errorf("look up event type %s: %w", p.Name, err)
	}
	now := s.Clock.Now()
	et, err = s.Store.EventTypePut(ctx, &store.EventType{
		Name: p.Name, Description: p.Description, Schema: schema, Archived: p.Archived,
		CreatedAt: now, UpdatedAt: now,
	})
	s.types.forget(p.Name)
	if err != nil {
		return nil, false, fmt.Errorf("put event type %s: %w", p.Name, err)
	}
	s.Logger.Info("event type put", "name", et.Name, "created", created, "archived", et.Archived)
	return et, created, nil
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
