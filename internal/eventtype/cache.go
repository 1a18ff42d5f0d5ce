package eventtype

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// typeTTL bounds how long a node checks events against a type another
// node changed, as formats' cache does (internal/catalog). A change made
// on this node takes effect here at once: every write forgets the type.
const typeTTL = 2 * time.Second

// typeCache keeps the catalog's answers for event types briefly: every
// accepted event looks its type up, and the lookup was a database read per
// request (4% of an ingest profile on SQLite, a round trip on PostgreSQL).
// It keeps "not in the catalog" too, the common answer.
type typeCache struct {
	clock clock.Clock

	mu    sync.Mutex
	types map[string]cachedType
}

type cachedType struct {
	et      *store.EventType // nil: not in the catalog
	fetched time.Time
}

func newTypeCache(c clock.Clock) *typeCache {
	return &typeCache{clock: c, types: map[string]cachedType{}}
}

// maxCachedTypes bounds the cache: past it, it starts again empty, so
// events of ever new type names cannot grow it without end.
const maxCachedTypes = 10000

// get returns the event type, nil when the catalog has none of that name.
func (c *typeCache) get(ctx context.Context, st store.Store, name string) (*store.EventType, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.types[name]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < typeTTL && !now.Before(e.fetched) {
		return e.et, nil
	}
	et, err := st.EventTypeGet(ctx, name)
	if errors.Is(err, herald.ErrNotFound) {
		et, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.types) >= maxCachedTypes {
		c.types = map[string]cachedType{}
	}
	c.types[name] = cachedType{et: et, fetched: now}
	c.mu.Unlock()
	return et, nil
}

// forget drops name, after this node wrote it.
func (c *typeCache) forget(name string) {
	c.mu.Lock()
	delete(c.types, name)
	c.mu.Unlock()
}
