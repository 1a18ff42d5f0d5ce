package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/store"
)

// apiKey is a tenant key, shown in full only in the answer that creates it.
type apiKey struct {
	ID        string    `json:"id" example:"key_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Key       string    `json:"key,omitempty" doc:"The key itself; it is shown only here, in the answer that created it."`
	Name      string    `json:"name"`
	TenantID  string    `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
	// KeyOmitted marks a replay of the creation under its Idempotency-Key
	// (it takes key's place there): the key is never stored, so a replay
	// cannot show it.
	KeyOmitted bool `json:"key_omitted,omitempty" doc:"true, and no key, in a replay of this creation under its Idempotency-Key: the key is shown once and never stored. Create another key if the first answer was lost."`
}

// adminKey is an admin key, shown in full only in the answer that creates
// it.
type adminKey struct {
	ID         string    `json:"id" example:"key_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Key        string    `json:"key,omitempty" doc:"The key itself; it is shown only here, in the answer that created it."`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	KeyOmitted bool      `json:"key_omitted,omitempty" doc:"true, and no key, in a replay of this creation under its Idempotency-Key: the key is shown once and never stored. Create another key if the first answer was lost."`
}

// keyInfo is a key as lists show it: never the key itself, which is not
// kept.
type keyInfo struct {
	ID         string     `json:"id" example:"key_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	Name       string     `json:"name"`
	TenantID   string     `json:"tenant_id,omitempty" doc:"The tenant the key acts for; absent for an admin key."`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" doc:"About when the key last authenticated a request, to the minute (it is recorded at most once a minute); null if it never has."`
}

func keyInfoFrom(k *store.Key) keyInfo {
	out := keyInfo{ID: k.ID, Name: k.Name, TenantID: k.TenantID, CreatedAt: k.CreatedAt.UTC()}
	if k.LastUsedAt != nil {
		t := k.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	return out
}

type keyCreateInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Body   *struct {
		Name string `json:"name,omitempty" maxLength:"256" doc:"What the key is for."`
	}
}

type keyOutput struct {
	Body apiKey
}

type tenantKeyListInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
}

type tenantKeyPath struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Key    string `path:"key" doc:"Key id (key_...)."`
}

type adminKeyCreateInput struct {
	Body *struct {
		Name string `json:"name,omitempty" maxLength:"256" doc:"What the key is for."`
	}
}

type adminKeyOutput struct {
	Body adminKey
}

type adminKeyPath struct {
	Key string `path:"key" doc:"Key id (key_...)."`
}

func (s *Server) registerKeys() {
	tenantKeys := "/api/v1/tenants/{tenant}/keys"
	register(s, huma.Operation{
		OperationID: "create-tenant-key", Method: http.MethodPost, Path: tenantKeys, Tags: []string{"Tenants"},
		Summary:       "Create a tenant key",
		Description:   "A tenant key may read its tenant and use everything under /api/v1/tenants/{tenant}/ except creating keys, and read formats and event types.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
		Metadata: map[string]any{metaSecretMember: "key"},
	}, scopeTenantAdmin, s.createKey)
	register(s, huma.Operation{
		OperationID: "list-tenant-keys", Method: http.MethodGet, Path: tenantKeys, Tags: []string{"Tenants"},
		Summary:     "List a tenant's keys",
		Description: "Each key's id, name, creation and last use; never the key itself.",
		Errors:      []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *tenantKeyListInput) (*pageOutput[keyInfo], error) {
		return s.listKeys(ctx, in.Tenant, in.Limit, in.Cursor)
	})
	register(s, huma.Operation{
		OperationID: "delete-tenant-key", Method: http.MethodDelete, Path: tenantKeys + "/{key}", Tags: []string{"Tenants"},
		Summary:       "Delete a tenant key",
		Description:   "The key is refused (401) from the next request on, by every node.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *tenantKeyPath) (*struct{}, error) {
		return nil, s.keys.Delete(ctx, in.Tenant, in.Key)
	})

	const adminKeys = "/api/v1/keys"
	tags := []string{"Keys"}
	register(s, huma.Operation{
		OperationID: "create-admin-key", Method: http.MethodPost, Path: adminKeys, Tags: tags,
		Summary: "Create an admin key", Description: "An admin key may do everything.",
		DefaultStatus: http.StatusCreated,
		Metadata:      map[string]any{metaSecretMember: "key"},
	}, scopeAdmin, s.createAdminKey)
	register(s, huma.Operation{
		OperationID: "list-admin-keys", Method: http.MethodGet, Path: adminKeys, Tags: tags,
		Summary:     "List the admin keys",
		Description: "Each key's id, name, creation and last use; never the key itself.",
	}, scopeAdmin, func(ctx context.Context, in *listInput) (*pageOutput[keyInfo], error) {
		return s.listKeys(ctx, "", in.Limit, in.Cursor)
	})
	register(s, huma.Operation{
		OperationID: "delete-admin-key", Method: http.MethodDelete, Path: adminKeys + "/{key}", Tags: tags,
		Summary:       "Delete an admin key",
		Description:   "The key is refused (401) from the next request on, by every node. The last admin key cannot be deleted (409): create another first.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, scopeAdmin, func(ctx context.Context, in *adminKeyPath) (*struct{}, error) {
		return nil, s.keys.Delete(ctx, "", in.Key)
	})
}

func (s *Server) listKeys(ctx context.Context, tenantID string, limit int, cursor string) (*pageOutput[keyInfo], error) {
	p, err := s.listParams(limit, cursor)
	if err != nil {
		return nil, err
	}
	rows, err := s.keys.List(ctx, tenantID, &p)
	if err != nil {
		return nil, err
	}
	return pageOf(rows, &p, keyInfoFrom), nil
}

func (s *Server) createKey(ctx context.Context, in *keyCreateInput) (*keyOutput, error) {
	name := ""
	if in.Body != nil {
		name = in.Body.Name
	}
	k, key, err := s.keys.Create(ctx, &apikey.CreateParams{TenantID: in.Tenant, Name: name})
	if err != nil {
		return nil, inBody(err)
	}
	return &keyOutput{Body: apiKey{ID: k.ID, Key: key, Name: k.Name, TenantID: k.TenantID, CreatedAt: k.CreatedAt.UTC()}}, nil
}

func (s *Server) createAdminKey(ctx context.Context, in *adminKeyCreateInput) (*adminKeyOutput, error) {
	name := ""
	if in.Body != nil {
		name = in.Body.Name
	}
	k, key, err := s.keys.Create(ctx, &apikey.CreateParams{Name: name})
	if err != nil {
		return nil, inBody(err)
	}
	return &adminKeyOutput{Body: adminKey{ID: k.ID, Key: key, Name: k.Name, CreatedAt: k.CreatedAt.UTC()}}, nil
}
