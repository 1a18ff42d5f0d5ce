package format

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// catalogTTL bounds how long a node serves a format another node changed.
const catalogTTL = 2 * time.Second

// Catalog finds formats by name: the built-ins first, then the store. It
// caches compiled formats briefly, since every delivery needs its format.
type Catalog struct {
	store       store.Store
	defaultName string
	now         func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	f       *Format
	fetched time.Time
}

// NewCatalog returns a catalog over st. defaultName is the format used for
// endpoints that name none ("" means standard-webhooks).
func NewCatalog(st store.Store, defaultName string) *Catalog {
	if defaultName == "" {
		defaultName = StandardWebhooksName
	}
	return &Catalog{store: st, defaultName: defaultName, now: time.Now, cache: map[string]cached{}}
}

// DefaultName is the name of the server's default format.
func (c *Catalog) DefaultName() string { return c.defaultName }

// Get returns the named format ("" = the default), or an error wrapping
// store.ErrNotFound.
func (c *Catalog) Get(ctx context.Context, name string) (*Format, error) {
	if name == "" {
		name = c.defaultName
	}
	if f, ok := Builtin(name); ok {
		return f, nil
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.cache[name]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < catalogTTL {
		return e.f, nil
	}
	rec, err := c.store.FormatGet(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	f, err := Parse(rec.Definition)
	if err != nil {
		return nil, fmt.Errorf("stored format %s no longer compiles: %w", name, err)
	}
	c.mu.Lock()
	c.cache[name] = cached{f: f, fetched: now}
	c.mu.Unlock()
	return f, nil
}

// Invalidate drops a cached format after it changed on this node.
func (c *Catalog) Invalidate(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

// Put validates and stores a definition (PUT /formats/{name} and formats
// loaded from a file at start). Built-in names cannot be replaced.
func (c *Catalog) Put(ctx context.Context, f *Format) (created bool, err error) {
	if _, ok := Builtin(f.Name); ok {
		return false, fmt.Errorf("format %s is built in and cannot be replaced: %w", f.Name, store.ErrConflict)
	}
	created, err = c.store.FormatPut(ctx, &store.Format{Name: f.Name, Definition: f.Definition()})
	c.Invalidate(f.Name)
	if err != nil {
		return false, fmt.Errorf("store format %s: %w", f.Name, err)
	}
	return created, nil
}
