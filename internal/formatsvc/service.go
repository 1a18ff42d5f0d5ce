package formatsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/naming"
)

// Config wires a Service. Both fields are required.
type Config struct {
	// Formats keeps the formats; every change goes through it, so its cache
	// stays current on this node.
	Formats *catalog.Catalog
	// Endpoints says whether a redefined format still suits the secrets of
	// the endpoints using it.
	Endpoints *endpoint.Service
}

// Service applies the format rules and keeps the result in the catalog.
type Service struct {
	cfg Config
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	return &Service{cfg: *cfg}
}

// PutParams is a format to create or replace.
type PutParams struct {
	// Name is the name the format is put under.
	Name string
	// Definition is the format object (docs/formats.md). Its name may be
	// left out; when given, it must be Name.
	Definition json.RawMessage
}

// Put creates or replaces a stored format, and reports whether it was
// created. A built-in format cannot be replaced, and a replacement must
// suit the secrets of the endpoints already using the format.
func (s *Service) Put(ctx context.Context, p *PutParams) (f *format.Format, created bool, err error) {
	if !naming.Format(p.Name) {
		return nil, false, herald.Invalid("name", "must be %s", naming.NameChars)
	}
	if _, ok := format.Builtin(p.Name); ok {
		return nil, false, herald.Errorf(herald.ErrConflict, "format %s is built in and cannot be replaced; PUT your format under another name", p.Name)
	}
	def, err := named(p.Name, p.Definition)
	if err != nil {
		return nil, false, err
	}
	if f, err = format.Parse(def); err != nil {
		var fe herald.Fields
		fe.AddErr("definition", err)
		return nil, false, fe.Err()
	}
	if err := s.cfg.Endpoints.CheckFormatChange(ctx, f); err != nil {
		return nil, false, err
	}
	if created, err = s.cfg.Formats.Put(ctx, f); err != nil {
		return nil, false, err
	}
	return f, created, nil
}

// named returns the definition with name as its name, which it may leave
// out but not contradict.
func named(name string, definition json.RawMessage) ([]byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(definition, &members); err != nil || members == nil {
		return nil, herald.Invalid("definition", "must be a JSON object")
	}
	if raw, ok := members["name"]; ok {
		var given string
		if err := json.Unmarshal(raw, &given); err != nil {
			return nil, herald.Invalid("definition.name", "must be a string")
		}
		if given != "" && given != name {
			return nil, herald.Invalid("definition.name", "is %q but the path says %q; they must match", given, name)
		}
	}
	members["name"], _ = json.Marshal(name)
	def, err := json.Marshal(members)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return def, nil
}

// Get returns the named format, built in or stored.
func (s *Service) Get(ctx context.Context, name string) (*format.Format, error) {
	f, err := s.cfg.Formats.Get(ctx, name)
	if err != nil {
		return nil, notFound(err, name)
	}
	return f, nil
}

// List lists every format: the built-ins first, then the stored ones.
func (s *Service) List(ctx context.Context) ([]catalog.Entry, error) {
	return s.cfg.Formats.List(ctx)
}

// Delete deletes a stored format. A built-in one cannot be deleted, nor
// one an endpoint uses.
func (s *Service) Delete(ctx context.Context, name string) error {
	err := s.cfg.Formats.Delete(ctx, name)
	switch {
	case errors.Is(err, catalog.ErrBuiltin):
		return herald.Errorf(herald.ErrConflict, "format %s is built in and cannot be deleted", name)
	case errors.Is(err, herald.ErrConflict):
		return herald.Errorf(herald.ErrConflict, "format %s is used by at least one endpoint; move those endpoints to another format first", name)
	}
	return notFound(err, name)
}

// notFound restates a lookup's ErrNotFound as "format <name> not found".
func notFound(err error, name string) error {
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Errorf(herald.ErrNotFound, "format %s not found", name)
	}
	return err
}
