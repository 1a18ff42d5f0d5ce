// Package service holds what every service under the API is given and
// keeps, as River's baseservice does: the store, the clock and the logger,
// with their defaults set in one place.
package service

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// Base is the store, clock and logger of a service. A service's Config
// embeds it, and its Service embeds the Base that Init returns.
type Base struct {
	// Store keeps what the service owns. Required.
	Store store.Store
	// Clock is the time of every decision the service makes; nil means
	// the wall clock.
	Clock clock.Clock
	// Logger receives the service's lines; nil discards them.
	Logger *slog.Logger
}

// Init returns b with the defaults filled in: the wall clock and a
// discarding logger.
func (b Base) Init() Base {
	b.Clock = clock.Or(b.Clock)
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	return b
}

// NewOwner returns a name no other holder of a lease has: this host, this
// process and a random part (host-pid-random), for the background jobs
// that hold a lease in the store while they run.
func NewOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
