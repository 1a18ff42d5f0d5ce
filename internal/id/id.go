package id

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of the ids Herald generates.
const (
	Endpoint = "ep"
	Event    = "evt"
	Delivery = "dlv"
	Attempt  = "att"
	Key      = "key"
	Replay   = "rpl"
)

var (
	mu      sync.Mutex
	entropy io.Reader = ulid.Monotonic(rand.Reader, 0)
)

// NewAt returns prefix + "_" + a new ULID taken at t, the caller's clock's
// now. Ids made in one process at the same or later times are strictly
// increasing.
func NewAt(prefix string, t time.Time) string {
	mu.Lock()
	u := ulid.MustNew(ulid.Timestamp(t), entropy)
	mu.Unlock()
	return prefix + "_" + u.String()
}

// NewTraceID returns a random W3C trace id (32 lowercase hex characters):
// the trace of an event that continues no caller's trace.
func NewTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return hex.EncodeToString(b[:])
}
