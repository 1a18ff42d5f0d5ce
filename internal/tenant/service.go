package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// Config wires a Service: the store keeps the tenants, the clock stamps creation and change times,
// the logger gets a line per tenant deleted. Store is required.
type Config = service.Base

// Service applies the tenant rules and stores the result.
type Service struct {
	service.Base

	known *service.Recent[struct{}] // tenants seen to exist (Exists)
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	b := cfg.Init()
	return &Service{Base: b, known: service.NewRecent[struct{}](b.Clock, existsTTL, maxKnown)}
}

// existsTTL is how long Exists trusts that a tenant it saw still exists:
// every request under a tenant asks, and the read was a database round
// trip per request (5% of an ingest profile on SQLite). A tenant deleted
// through this node is forgotten at once; one deleted through another node
// may pass this check here for up to existsTTL, and the store then refuses
// what the request would write for it (an event's tenant is checked in its
// own transaction).
const existsTTL = 2 * time.Second

// maxKnown bounds the tenants Exists remembers: past it, it starts again.
const maxKnown = 10000

// Exists answers nil when the tenant exists and "tenant <id> not found"
// when it does not, remembering a tenant it found for a moment (existsTTL).
func (s *Service) Exists(ctx context.Context, tenantID string) error {
	if _, ok := s.known.Get(tenantID); ok {
		return nil
	}
	if _, err := s.Get(ctx, tenantID); err != nil {
		return err
	}
	s.known.Put(tenantID, struct{}{})
	return nil
}

// CreateParams is a new tenant.
type CreateParams struct {
	// ID is the user's own id for the tenant (naming.Tenant).
	ID   string
	Name string
	// Metadata is a compact JSON object, or nil.
	Metadata json.RawMessage
	// PortalOrigins are the origins that may frame the tenant's portal
	// (CheckOrigins).
	PortalOrigins []string
}

// UpdateParams changes a tenant: nil fields stay as they are.
type UpdateParams struct {
	Name *string
	// Metadata replaces the metadata (a compact JSON object).
	Metadata json.RawMessage
	// PortalOrigins, when not nil, replaces the portal origins (empty:
	// none).
	PortalOrigins *[]string
}

// Get returns a tenant.
func (s *Service) Get(ctx context.Context, tenantID string) (*store.Tenant, error) {
	t, err := s.Store.TenantGet(ctx, tenantID)
	if err != nil {
		return nil, notFound(err, tenantID)
	}
	return t, nil
}

// List returns a page of tenants, newest first (one more than p.Limit
// when there is a next page, as store lists do).
func (s *Service) List(ctx context.Context, p *store.ListParams) ([]*store.Tenant, error) {
	rows, err := s.Store.TenantList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return rows, nil
}

// Create checks and stores a new tenant; an id already in use is an
// ErrConflict.
func (s *Service) Create(ctx context.Context, p *CreateParams) (*store.Tenant, error) {
	var fe herald.Fields
	if !naming.Tenant(p.ID) {
		fe.Add("id", "must be "+naming.NameChars)
	}
	fe.Text("name", p.Name)
	fe.Metadata("metadata", p.Metadata)
	origins := checkOrigins(&fe, p.PortalOrigins)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	t, err := s.Store.TenantCreate(ctx, &store.Tenant{ID: p.ID, Name: p.Name, Metadata: p.Metadata, PortalOrigins: origins, CreatedAt: now, UpdatedAt: now})
	switch {
	case errors.Is(err, herald.ErrConflict):
		return nil, herald.Errorf(herald.ErrConflict, "tenant %s already exists", p.ID)
	case err != nil:
		return nil, fmt.Errorf("create tenant %s: %w", p.ID, err)
	}
	return t, nil
}

// Update changes the fields p gives and stores the tenant.
func (s *Service) Update(ctx context.Context, tenantID string, p *UpdateParams) (*store.Tenant, error) {
	t, err := s.Get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var fe herald.Fields
	if p.Name != nil {
		fe.Text("name", *p.Name)
	}
	fe.Metadata("metadata", p.Metadata)
	if p.PortalOrigins != nil {
		t.PortalOrigins = checkOrigins(&fe, *p.PortalOrigins)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if p.Name != nil {
		t.Name = *p.Name
	}
	if p.Metadata != nil {
		t.Metadata = p.Metadata
	}
	t.UpdatedAt = s.Clock.Now()
	t, err = s.Store.TenantUpdate(ctx, t)
	if err != nil {
		return nil, notFound(err, tenantID)
	}
	return t, nil
}

// Delete removes a tenant and everything it owns: keys, endpoints, events
// and their deliveries.
func (s *Service) Delete(ctx context.Context, tenantID string) error {
	err := s.Store.TenantDelete(ctx, tenantID)
	s.known.Forget(tenantID)
	if err != nil {
		return notFound(err, tenantID)
	}
	s.Logger.Info("tenant deleted", "tenant_id", tenantID)
	return nil
}

// notFound restates a lookup's ErrNotFound as "tenant <id> not found" and
// wraps anything else.
func notFound(err error, tenantID string) error {
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Errorf(herald.ErrNotFound, "tenant %s not found", tenantID)
	}
	return fmt.Errorf("tenant %s: %w", tenantID, err)
}

// MaxPortalOrigins bounds a tenant's portal origins: each is a word of
// every portal page's Content-Security-Policy header.
const MaxPortalOrigins = 20

// checkOrigins checks a tenant's portal origins, adding a fault at
// portal_origins[i] for each that is not an origin, and returns them in
// their canonical form (lower case, no default port), each once.
func checkOrigins(fe *herald.Fields, origins []string) []string {
	if len(origins) > MaxPortalOrigins {
		fe.Add("portal_origins", "at most %d origins", MaxPortalOrigins)
		return nil
	}
	var out []string
	for i, o := range origins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			fe.Add(fmt.Sprintf("portal_origins[%d]", i), "%v", err)
			continue
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// CanonicalOrigin checks that o is a web origin, a scheme (http or https)
// and a host with an optional port and nothing else
// ("https://app.example.com"), and returns it in lower case without the
// scheme's default port. Its characters are those of a URL's host, so it
// can be written into a Content-Security-Policy as it is.
func CanonicalOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "", errors.New("must be an origin: http:// or https:// and a host, such as https://app.example.com")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, "?#*; ,'\\"):
		return "", errors.New("must be an origin only (a scheme and a host, with no path, query, wildcard or user)")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return "", fmt.Errorf("must be an origin: the host %q has a character other than a-z, 0-9, '.', '-'", host)
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", errors.New("must be an origin: the port must be 1 to 65535")
		}
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}
