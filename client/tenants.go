package client

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Tenant is one of your customers, to whose endpoints webhooks are sent.
type Tenant struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Metadata json.RawMessage `json:"metadata"`
	// PortalOrigins are the origins that may frame the tenant's customer
	// portal.
	PortalOrigins []string  `json:"portal_origins"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// TenantCreateParams is a new tenant. ID is yours (1 to 64 of A-Z a-z 0-9
// _ . -); Metadata, when set, is a JSON object of at most 16 KiB.
type TenantCreateParams struct {
	ID            string          `json:"id"`
	Name          string          `json:"name,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	PortalOrigins []string        `json:"portal_origins,omitempty"`
}

// TenantUpdateParams changes the fields that are set: Name and
// PortalOrigins (replaced whole; an empty list for none) when not nil,
// Metadata (replaced whole) when not empty.
type TenantUpdateParams struct {
	Name          *string         `json:"name,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	PortalOrigins *[]string       `json:"portal_origins,omitempty"`
}

// PortalLink is a link to a tenant's customer portal: opened in a browser,
// with no key, it shows that tenant's endpoints and deliveries until
// ExpiresAt.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TenantsService is the calls on tenants (an admin key's, except Get,
// which a tenant's own key may make).
type TenantsService struct{ c *Client }

// Create creates a tenant; an id already taken is ErrConflict.
func (s *TenantsService) Create(ctx context.Context, p *TenantCreateParams) (*Tenant, error) {
	var t Tenant
	if _, err := s.c.Do(ctx, "POST", "/tenants", nil, p, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Get reads a tenant.
func (s *TenantsService) Get(ctx context.Context, id string) (*Tenant, error) {
	path, err := path("tenants", id)
	if err != nil {
		return nil, err
	}
	var t Tenant
	if _, err := s.c.Do(ctx, "GET", path, nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Update changes a tenant's name or metadata.
func (s *TenantsService) Update(ctx context.Context, id string, p *TenantUpdateParams) (*Tenant, error) {
	path, err := path("tenants", id)
	if err != nil {
		return nil, err
	}
	var t Tenant
	if _, err := s.c.Do(ctx, "PATCH", path, nil, p, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Delete deletes a tenant and everything it owns: keys, endpoints, events,
// deliveries.
func (s *TenantsService) Delete(ctx context.Context, id string) error {
	path, err := path("tenants", id)
	if err != nil {
		return err
	}
	_, err = s.c.Do(ctx, "DELETE", path, nil, nil, nil)
	return err
}

// PortalLink makes a link to the tenant's customer portal that works for
// expiresIn ("1h"; 1m to 24h; "" is the server's default, an hour).
func (s *TenantsService) PortalLink(ctx context.Context, id, expiresIn string) (*PortalLink, error) {
	path, err := path("tenants", id, "portal-links")
	if err != nil {
		return nil, err
	}
	body := struct {
		ExpiresIn string `json:"expires_in,omitempty"`
	}{expiresIn}
	var l PortalLink
	if _, err := s.c.Do(ctx, "POST", path, nil, &body, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// List reads one page of tenants, newest first.
func (s *TenantsService) List(ctx context.Context, p *ListParams) (*Page[Tenant], error) {
	return getPage[Tenant](ctx, s.c, "/tenants", p.query())
}

// All iterates over every tenant, newest first, p's Limit as the page
// size (its Cursor is not used).
func (s *TenantsService) All(ctx context.Context, p *ListParams) iter.Seq2[Tenant, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Tenant], error) {
		return s.List(ctx, withCursor(p, cursor))
	})
}
