package catalog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/store"
)

// cacheTTL bounds how long a node serves a format another node changed.
const cacheTTL = 2 * time.Second

// ErrBuiltin is the conflict of replacing or deleting a format Herald
// ships.
var ErrBuiltin = fmt.Errorf("format is built in: %w", herald.ErrConflict)

// Catalog finds formats by name: the built-ins first, then the store. It
// caches compiled formats briefly, since every delivery needs its format.
type Catalog struct {
	store       store.Store
	defaultName string
	clock       clock.Clock

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	f       *format.Format
	fetched time.Time
}

// New returns a catalog over st. defaultName is the format used for
// endpoints that name none ("" means standard-webhooks); clk times the
// cache (nil is the wall clock).
func New(st store.Store, defaultName string, clk clock.Clock) *Catalog {
	if defaultName == "" {
		defaultName = format.StandardWebhooksName
	}
	return &Catalog{store: st, defaultName: defaultName, clock: clock.Or(clk), cache: map[string]cached{}}
}

// DefaultName is the name of the server's default format.
func (c *Catalog) DefaultName() string { return c.defaultName }

// Get returns the named format ("" = the default), or an error wrapping
// store.ErrNotFound.
func (c *Catalog) Get(ctx context.Context, name string) (*format.Format, error) {
	if name == "" {
		name = c.defaultName
	}
	if f, ok := format.Builtin(name); ok {
		return f, nil
	}
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.cache[name]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < cacheTTL {
		return e.f, nil
	}
	rec, err := c.store.FormatGet(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	f, err := format.Parse(rec.Definition)
	if err != nil {
		return nil, fmt.Errorf("stored format %s no longer compiles: %w", name, err)
	}
	c.mu.Lock()
	c.cache[name] = cached{f: f, fetched: now}
	c.mu.Unlock()
	return f, nil
}

// invalidate drops a cached format after it changed on this node.
func (c *Catalog) invalidate(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

// Put stores a compiled format (PUT /formats/{name} and formats loaded from
// a file at start). Built-in names cannot be replaced (ErrBuiltin).
func (c *Catalog) Put(ctx context.Context, f *format.Format) (created bool, err error) {
	if _, ok := format.Builtin(f.Name); ok {
		return false, fmt.Errorf("replace format %s: %w", f.Name, ErrBuiltin)
	}
	created, err = c.store.FormatPut(ctx, &store.Format{Name: f.Name, Definition: f.Definition()})
	c.invalidate(f.Name)
	if err != nil {
		return false, fmt.Errorf("store format %s: %w", f.Name, err)
	}
	return created, nil
}

// Delete deletes a stored format. A built-in one cannot be deleted
// (ErrBuiltin); one an endpoint uses is the store's ErrConflict, a missing
// one its ErrNotFound.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	if _, ok := format.Builtin(name); ok {
		return fmt.Errorf("delete format %s: %w", name, ErrBuiltin)
	}
	err := c.store.FormatDelete(ctx, name)
	c.invalidate(name)
	if err != nil {
		return fmt.Errorf("delete format %s: %w", name, err)
	}
	return nil
}

// Entry is one format in List.
type Entry struct {
	Name string
	// CreatedAt is when the format was first stored; zero for a built-in.
	CreatedAt time.Time
	// Definition is the format object as stored, or as a built-in one
	// fills in its defaults.
	Definition []byte
}

// List lists every format: the built-ins first, then the stored ones in
// the store's order. A stored format under a built-in's name (from before
// that name was built in) is left out, as Get never finds it.
func (c *Catalog) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	for _, f := range format.Builtins() {
		out = append(out, Entry{Name: f.Name, Definition: f.Definition()})
	}
	stored, err := c.store.FormatList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list formats: %w", err)
	}
	for _, f := range stored {
		if _, ok := format.Builtin(f.Name); !ok {
			out = append(out, Entry{Name: f.Name, CreatedAt: f.CreatedAt, Definition: f.Definition})
		}
	}
	return out, nil
}
