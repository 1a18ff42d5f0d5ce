package client

import (
	"context"
	"iter"
	"time"
)

// Key is an API key. Key, the key itself, is set only in the answer to
// Create: the server keeps only its hash.
type Key struct {
	ID string `json:"id"`
	// Key is "hk_..." in the answer to Create, "" anywhere else.
	Key  string `json:"key,omitempty"`
	Name string `json:"name"`
	// TenantID is the tenant a tenant key acts for; "" for an admin key.
	TenantID  string    `json:"tenant_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is about when the key last authenticated a request, when
	// the server records it (lists only); nil if never.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// KeyOmitted is true in a replay of a creation under its
	// Idempotency-Key: the key was shown once and cannot be shown again.
	KeyOmitted bool `json:"key_omitted,omitempty"`
}

// KeyCreateParams is a new key: a tenant key of Tenant, or with Tenant ""
// an admin key. Name says what it is for.
type KeyCreateParams struct {
	Tenant string `json:"-"`
	Name   string `json:"name,omitempty"`
}

// KeysService is the calls on API keys (an admin key's).
type KeysService struct{ c *Client }

// keysPath is where tenant's keys are, or the admin keys for "".
func keysPath(tenant string, id ...string) (string, error) {
	if tenant == "" {
		return path(append([]string{"keys"}, id...)...)
	}
	return path(append([]string{"tenants", tenant, "keys"}, id...)...)
}

// Create creates a key; the answer is the only time its Key is shown.
func (s *KeysService) Create(ctx context.Context, p *KeyCreateParams) (*Key, error) {
	path, err := keysPath(p.Tenant)
	if err != nil {
		return nil, err
	}
	var k Key
	if _, err := s.c.Do(ctx, "POST", path, nil, p, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// List reads one page of a tenant's keys, or the admin keys for tenant "",
// newest first; never the keys themselves.
func (s *KeysService) List(ctx context.Context, tenant string, p *ListParams) (*Page[Key], error) {
	path, err := keysPath(tenant)
	if err != nil {
		return nil, err
	}
	return getPage[Key](ctx, s.c, path, p.query())
}

// All iterates over every key of a tenant, or every admin key for tenant
// "".
func (s *KeysService) All(ctx context.Context, tenant string, p *ListParams) iter.Seq2[Key, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Key], error) {
		return s.List(ctx, tenant, withCursor(p, cursor))
	})
}

// Delete deletes a tenant's key, or an admin key for tenant "": the server
// refuses it from then on. Deleting the last admin key is ErrConflict.
func (s *KeysService) Delete(ctx context.Context, tenant, id string) error {
	path, err := keysPath(tenant, id)
	if err != nil {
		return err
	}
	_, err = s.c.Do(ctx, "DELETE", path, nil, nil, nil)
	return err
}
