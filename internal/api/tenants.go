package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/store"
	tenantsvc "github.com/heraldhq/herald/internal/tenant"
)

// tenant is a customer that receives webhooks, as the API shows it.
type tenant struct {
	ID       string     `json:"id" example:"acme"`
	Name     string     `json:"name" example:"Acme Inc"`
	Metadata jsonObject `json:"metadata"`
	// PortalOrigins may frame the tenant's customer portal.
	PortalOrigins []string  `json:"portal_origins" doc:"The origins that may frame this tenant's customer portal (CSP frame-ancestors); empty: none."`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func tenantFrom(t *store.Tenant) tenant {
	return tenant{ID: t.ID, Name: t.Name, Metadata: metadata(t.Metadata), PortalOrigins: orEmpty(t.PortalOrigins),
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

type tenantOutput struct {
	Body tenant
}

type tenantPath struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
}

type tenantCreateInput struct {
	Body struct {
		ID            string     `json:"id" maxLength:"64" example:"acme" doc:"Your id for the tenant: 1 to 64 of A-Z a-z 0-9 _ . -, but not . or .."`
		Name          string     `json:"name,omitempty" maxLength:"256" example:"Acme Inc"`
		Metadata      jsonObject `json:"metadata,omitempty"`
		PortalOrigins []string   `json:"portal_origins,omitempty" maxItems:"20" doc:"Origins (https://app.example.com) that may frame this tenant's customer portal."`
	}
}

type tenantPatchInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Body   struct {
		Name          *string    `json:"name,omitempty" maxLength:"256"`
		Metadata      jsonObject `json:"metadata,omitempty" doc:"Replaces the metadata."`
		PortalOrigins *[]string  `json:"portal_origins,omitempty" maxItems:"20" doc:"Replaces the portal origins; [] for none."`
	}
}

type portalLinkInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Body   struct {
		ExpiresIn string `json:"expires_in,omitempty" maxLength:"32" example:"1h" doc:"How long the link works: 1m to 24h; 1h when absent."`
	}
}

type portalLinkOutput struct {
	Body struct {
		URL       string    `json:"url" doc:"Open it in a browser, with no key, for this tenant's portal."`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

func (s *Server) registerTenants() {
	const base = "/api/v1/tenants"
	tags := []string{"Tenants"}
	register(s, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Create a tenant", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Metadata: map[string]any{metaTenantMember: "id"},
	}, scopeAdmin, s.createTenant)
	register(s, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List tenants",
	}, scopeAdmin, func(ctx context.Context, in *listInput) (*pageOutput[tenant], error) {
		p, err := s.listParams(in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		rows, err := s.tenants.List(ctx, &p)
		if err != nil {
			return nil, err
		}
		return pageOf(rows, &p, tenantFrom), nil
	})
	register(s, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: base + "/{tenant}", Tags: tags,
		Summary: "Get a tenant", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *tenantPath) (*tenantOutput, error) {
		t, err := s.tenants.Get(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		return &tenantOutput{Body: tenantFrom(t)}, nil
	})
	register(s, huma.Operation{
		OperationID: "update-tenant", Method: http.MethodPatch, Path: base + "/{tenant}", Tags: tags,
		Summary: "Change a tenant", Description: "Only the fields given change.", Errors: []int{http.StatusNotFound},
	}, scopeTenantAdmin, s.updateTenant)
	register(s, huma.Operation{
		OperationID: "delete-tenant", Method: http.MethodDelete, Path: base + "/{tenant}", Tags: tags,
		Summary: "Delete a tenant and everything it owns", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeTenantAdmin, func(ctx context.Context, in *tenantPath) (*struct{}, error) {
		return nil, s.tenants.Delete(ctx, in.Tenant)
	})
	register(s, huma.Operation{
		OperationID: "create-portal-link", Method: http.MethodPost, Path: base + "/{tenant}/portal-links", Tags: tags,
		Summary: "Make a customer portal link", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
		Description: "A signed URL that opens this tenant's portal in a browser, with no key, until it expires.",
		Metadata:    map[string]any{metaSecretMember: "url"},
	}, scopeTenant, s.createPortalLink)
}

func (s *Server) createPortalLink(ctx context.Context, in *portalLinkInput) (*portalLinkOutput, error) {
	d, err := portal.ExpiresIn("body.expires_in", in.Body.ExpiresIn)
	if err != nil {
		return nil, err
	}
	if err := s.tenants.Exists(ctx, in.Tenant); err != nil {
		return nil, err
	}
	exp := s.now().Add(d).Truncate(time.Second)
	tok, err := s.portal.Token(ctx, in.Tenant, exp)
	if err != nil {
		return nil, err
	}
	out := &portalLinkOutput{}
	out.Body.URL = requestOrigin(ctx) + portal.Path + "?token=" + tok
	out.Body.ExpiresAt = exp.UTC()
	return out, nil
}

func (s *Server) createTenant(ctx context.Context, in *tenantCreateInput) (*tenantOutput, error) {
	b := &in.Body
	meta, err := b.Metadata.compact()
	if err != nil {
		return nil, herald.Invalid("body.metadata", "must be a JSON object")
	}
	t, err := s.tenants.Create(ctx, &tenantsvc.CreateParams{ID: b.ID, Name: b.Name, Metadata: meta, PortalOrigins: b.PortalOrigins})
	if err != nil {
		return nil, inBody(err)
	}
	return &tenantOutput{Body: tenantFrom(t)}, nil
}

func (s *Server) updateTenant(ctx context.Context, in *tenantPatchInput) (*tenantOutput, error) {
	p := &tenantsvc.UpdateParams{Name: in.Body.Name, PortalOrigins: in.Body.PortalOrigins}
	if in.Body.Metadata != nil {
		meta, err := in.Body.Metadata.compact()
		if err != nil {
			return nil, herald.Invalid("body.metadata", "must be a JSON object")
		}
		p.Metadata = meta
	}
	t, err := s.tenants.Update(ctx, in.Tenant, p)
	if err != nil {
		return nil, inBody(err)
	}
	return &tenantOutput{Body: tenantFrom(t)}, nil
}

// orEmpty is a list as the API writes it: [] rather than null.
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
