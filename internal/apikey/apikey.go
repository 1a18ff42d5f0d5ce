package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// prefix starts every API key Herald makes, so a leaked key is easy to
// recognise in a scanner's rules.
const prefix = "hk_"

// maxLen bounds a presented key before it is hashed; keys Herald makes are
// 46 bytes, and a configured one may be longer.
const maxLen = 256

// MinLen is the shortest key Herald takes, configured (--admin-key) or
// presented: 32 characters even of a small alphabet are more than can be
// guessed, where a five-character key was accepted before. Keys Herald
// makes are 46.
const MinLen = 32

// CheckConfigured refuses an admin key from the server's configuration
// that is too short to be a secret, saying how to make one.
func CheckConfigured(key string) error {
	if n := len(key); n < MinLen {
		return herald.Errorf(herald.ErrInvalid, "the admin key is %d characters, and must be at least %d: make one with `openssl rand -base64 32`, or leave it unset and Herald makes one", n, MinLen)
	}
	return nil
}

// New returns a new API key: "hk_" and the base64url of 32 random bytes.
// Only its Hash is stored.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is what the store keeps of a key: the SHA-256 hex of the full key.
// Keys are 256 random bits, so a fast hash is enough: there is nothing to
// guess that a slow hash would protect.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// TouchEvery is how often a key's last use is written at most: a key
// used all day costs one write a minute, not one per request.
const TouchEvery = time.Minute

// touchTimeout bounds the write of a last use, which no request waits
// for.
const touchTimeout = 10 * time.Second

// Config wires a Service: the store keeps the keys (by hash), the clock stamps ids, creation
// and last use times, the logger gets a line per key created and deleted. Store is required.
type Config = service.Base

// KeyTTL is how long AuthenticateRecent trusts a key this node looked
// up. Looking every event's key up in the store was 11% of ingest's CPU
// on SQLite and 15% on PostgreSQL, plus a round trip (docs/design.md).
const KeyTTL = time.Second

// maxKnownKeys bounds the keys a node remembers.
const maxKnownKeys = 10_000

// Service creates, lists, deletes and looks up API keys. Authenticate
// looks every key up in the store, so a key deleted through any node is
// refused by every node at once. AuthenticateRecent may answer from what
// this node found within KeyTTL (by hash, never the key itself), for a
// request whose transaction checks the key again (event ingest); an
// unknown key is never remembered, so a new key works at once.
type Service struct {
	service.Base
	known *service.Recent[*store.Key] // by hash
	// touching holds the ids of the keys whose last use is being written
	// on this node, so that a burst of requests writes it once; touches
	// counts those writes, for Wait.
	touching sync.Map
	touches  sync.WaitGroup
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	b := cfg.Init()
	return &Service{Base: b, known: service.NewRecent[*store.Key](b.Clock, KeyTTL, maxKnownKeys)}
}

// errInvalidKey is the answer to any key that is not one: the same for a
// malformed and an unknown key, so nothing can be learnt from it.
var errInvalidKey = herald.Errorf(herald.ErrUnauthorized, "the API key is not valid")

// Authenticate returns the stored key that key is. A key that is shorter
// than MinLen (a short admin key stored by an earlier version included),
// too long or unknown is an ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, key string) (*store.Key, error) {
	if len(key) < MinLen || len(key) > maxLen {
		return nil, errInvalidKey
	}
	return s.lookUp(ctx, Hash(key))
}

// AuthenticateRecent is Authenticate, but a key this node looked up less
// than KeyTTL ago is not looked up again: the key may have been deleted
// since, through another node, so the caller must check it exists where
// it writes (store.EventCreateParams.KeyID).
func (s *Service) AuthenticateRecent(ctx context.Context, key string) (*store.Key, error) {
	if len(key) < MinLen || len(key) > maxLen {
		return nil, errInvalidKey
	}
	hash := Hash(key)
	if k, ok := s.known.Get(hash); ok && !s.touchDue(k) {
		return k, nil
	}
	return s.lookUp(ctx, hash)
}

// lookUp finds the key of hash in the store and remembers it.
func (s *Service) lookUp(ctx context.Context, hash string) (*store.Key, error) {
	k, err := s.Store.KeyGetByHash(ctx, hash)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		s.known.Forget(hash)
		return nil, errInvalidKey
	case err != nil:
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	k = s.touch(ctx, k)
	s.known.Put(hash, k)
	return k, nil
}

// touchDue reports whether k's last use is older than TouchEvery, so
// this use is to be written.
func (s *Service) touchDue(k *store.Key) bool {
	return k.LastUsedAt == nil || s.Clock.Now().Sub(*k.LastUsedAt) >= TouchEvery
}

// touch records that k was used now when its stored last use is older
// than TouchEvery, in the background: the request it authenticates
// never waits for the write, and a write that fails costs only a stale
// last_used_at. It returns k as this node now knows it: with the new
// last use, so that the requests it is remembered for do not write it
// again.
func (s *Service) touch(ctx context.Context, k *store.Key) *store.Key {
	if !s.touchDue(k) {
		return k
	}
	now := s.Clock.Now()
	used := *k
	used.LastUsedAt = &now
	if _, busy := s.touching.LoadOrStore(k.ID, struct{}{}); busy {
		return &used
	}
	s.touches.Go(func() {
		defer s.touching.Delete(k.ID)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchTimeout)
		defer cancel()
		// The condition in the store keeps other nodes touching the key at
		// the same moment from writing it again.
		if err := s.Store.KeyTouch(ctx, k.ID, now, now.Add(-TouchEvery)); err != nil {
			s.Logger.Warn("record the last use of an API key", "key_id", k.ID, "err", err)
		}
	})
	return &used
}

// Wait returns once the last uses being written have been: tests call it
// before they read them, or close the store.
func (s *Service) Wait() { s.touches.Wait() }

// List returns a page of the keys of a tenant, or with tenantID "" of
// the admin keys, newest first (one more than p.Limit when there is a
// next page, as store lists do).
func (s *Service) List(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Key, error) {
	rows, err := s.Store.KeyList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return rows, nil
}

// Delete deletes a key of a tenant, or with tenantID "" an admin key; it
// is refused from the next request on. A key the tenant (or the admin
// keys) does not have is ErrNotFound, and the last admin key is an
// ErrConflict: without one, nobody could manage the server.
func (s *Service) Delete(ctx context.Context, tenantID, keyID string) error {
	err := s.Store.KeyDelete(ctx, tenantID, keyID)
	if err == nil {
		s.known.Clear()
	}
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return herald.Errorf(herald.ErrNotFound, "key %s not found", keyID)
	case errors.Is(err, herald.ErrConflict):
		return herald.Errorf(herald.ErrConflict, "key %s is the last admin key and cannot be deleted: create another admin key first", keyID)
	case err != nil:
		return fmt.Errorf("delete API key %s: %w", keyID, err)
	}
	s.Logger.Info("API key deleted", "key_id", keyID, "tenant_id", tenantID)
	return nil
}

// CreateParams is a new key.
type CreateParams struct {
	// TenantID is the tenant the key may act for; "" makes an admin key.
	TenantID string
	// Name says what the key is for.
	Name string
}

// Create makes and stores a new key. It returns the stored key and the key
// itself, which is shown this once: only its hash is kept.
func (s *Service) Create(ctx context.Context, p *CreateParams) (*store.Key, string, error) {
	var fe herald.Fields
	if fe.Text("name", p.Name); fe.Err() != nil {
		return nil, "", fe.Err()
	}
	now := s.Clock.Now()
	key := New()
	k, err := s.Store.KeyCreate(ctx, &store.Key{ID: id.NewAt(id.Key, now), TenantID: p.TenantID, Name: p.Name, Hash: Hash(key), CreatedAt: now})
	if err != nil {
		return nil, "", fmt.Errorf("create API key: %w", err)
	}
	s.Logger.Info("API key created", "key_id", k.ID, "tenant_id", k.TenantID)
	return k, key, nil
}

// BootstrapParams says how a server comes by its admin key.
type BootstrapParams struct {
	// Key is an admin key from the server's configuration (or the one a
	// --dev start keeps in its file), stored (by hash) if new; "" means
	// Herald makes one. It must pass CheckConfigured.
	Key string
	// Name is what a new stored Key is called; "" means "configured admin
	// key".
	Name string
	// Dev returns the key in use every time, so it can be printed (a
	// stored key cannot be shown again); without Key it makes a fresh one
	// on every start.
	Dev bool
}

// Bootstrap makes sure an admin key exists: the configured one, or else one
// made on the first start (on every start with Dev and no Key). It returns
// the key to print, or "" when there is none to show.
func (s *Service) Bootstrap(ctx context.Context, p *BootstrapParams) (string, error) {
	now := s.Clock.Now()
	if p.Key != "" {
		if err := CheckConfigured(p.Key); err != nil {
			return "", err
		}
		hash := Hash(p.Key)
		_, err := s.Store.KeyGetByHash(ctx, hash)
		switch {
		case err == nil:
		case errors.Is(err, herald.ErrNotFound):
			name := p.Name
			if name == "" {
				name = "configured admin key"
			}
			_, err := s.Store.KeyCreate(ctx, &store.Key{ID: id.NewAt(id.Key, now), Name: name, Hash: hash, CreatedAt: now.UTC()})
			// A second node starting at the same moment may have stored it
			// first.
			if err != nil && !errors.Is(err, herald.ErrConflict) {
				return "", fmt.Errorf("store admin key: %w", err)
			}
		default:
			return "", fmt.Errorf("look up admin key: %w", err)
		}
		if p.Dev {
			return p.Key, nil
		}
		return "", nil
	}
	exists, err := s.Store.KeyAdminExists(ctx)
	if err != nil {
		return "", fmt.Errorf("look up admin keys: %w", err)
	}
	if exists && !p.Dev {
		return "", nil
	}
	key := New()
	name := "first admin key"
	if p.Dev {
		name = "dev admin key"
	}
	if _, err := s.Store.KeyCreate(ctx, &store.Key{ID: id.NewAt(id.Key, now), Name: name, Hash: Hash(key), CreatedAt: now.UTC()}); err != nil {
		return "", fmt.Errorf("create admin key: %w", err)
	}
	return key, nil
}
