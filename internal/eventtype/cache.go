package eventtype

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// typeTTL bounds how long a node checks events against a type another
// node changed, as formats' cache does (internal/catalog). A change made
// on this node takes effect here at once: every write forgets the type.
const typeTTL = 2 * time.Second

// maxCachedTypes bounds the cache (service.Recent).
const maxCachedTypes = 10000

// typeCache keeps the catalog's answers for event types briefly: every
// accepted event looks its type up, and the lookup was a database read per
// request (4% of an ingest profile on SQLite, a round trip on PostgreSQL).
// It keeps "not in the catalog" too (nil), the common answer.
type typeCache struct {
	recent *service.Recent[*store.EventType]
}

func newTypeCache(c clock.Clock) *typeCache {
	return &typeCache{recent: service.NewRecent[*store.EventType](c, typeTTL, maxCachedTypes)}
}

// get returns the event type, nil when the catalog has none of that name.
func (c *typeCache) get(ctx context.Context, st store.Store, name string) (*store.EventType, error) {
	if et, ok := c.recent.Get(name); ok {
		return et, nil
	}
	et, err := st.EventTypeGet(ctx, name)
	if errors.Is(err, herald.ErrNotFound) {
		et, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.recent.Put(name, et)
	return et, nil
}

// forget drops name, after this node wrote it.
func (c *typeCache) forget(name string) { c.recent.Forget(name) }
