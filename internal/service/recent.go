package service

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/clock"
)

// Recent remembers values a service read, each for TTL, so a read every
// request makes (a tenant's existence, an event type) is made once a
// moment instead: a node's own writes Forget what they change at once,
// and another node's are seen within TTL. Past Max entries it starts
// again empty, so ever new keys cannot grow it without end. The zero
// value is not ready: use NewRecent.
type Recent[V any] struct {
	clock clock.Clock
	ttl   time.Duration
	max   int

	mu sync.Mutex
	m  map[string]recentEntry[V]
}

type recentEntry[V any] struct {
	v  V
	at time.Time
}

// NewRecent returns a Recent on c (nil: the wall clock).
func NewRecent[V any](c clock.Clock, ttl time.Duration, max int) *Recent[V] {
	return &Recent[V]{clock: clock.Or(c), ttl: ttl, max: max, m: map[string]recentEntry[V]{}}
}

// Get returns the value kept for key, if it was put less than TTL ago.
func (r *Recent[V]) Get(key string) (V, bool) {
	now := r.clock.Now()
	r.mu.Lock()
	e, ok := r.m[key]
	r.mu.Unlock()
	if !ok || now.Before(e.at) || now.Sub(e.at) >= r.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v for key from now.
func (r *Recent[V]) Put(key string, v V) {
	now := r.clock.Now()
	r.mu.Lock()
	if len(r.m) >= r.max {
		r.m = map[string]recentEntry[V]{}
	}
	r.m[key] = recentEntry[V]{v: v, at: now}
	r.mu.Unlock()
}

// Forget drops key, after this node changed what it names.
func (r *Recent[V]) Forget(key string) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}

// Clear drops every entry, after this node changed something it cannot
// name by key (an API key deleted by id, kept by hash).
func (r *Recent[V]) Clear() {
	r.mu.Lock()
	clear(r.m)
	r.mu.Unlock()
}
