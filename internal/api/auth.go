package api

import (
	"context"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// securityScheme is the OpenAPI name of bearer-key authentication.
const securityScheme = "bearer"

// scope is who may call an operation.
type scope int

const (
	// scopePublic needs no key.
	scopePublic scope = iota
	// scopeAnyKey needs a valid key of any kind (reading formats and event
	// types).
	scopeAnyKey
	// scopeAdmin needs an admin key.
	scopeAdmin
	// scopeTenant is a route under /tenants/{tenant}: an admin key, or that
	// tenant's own key. Another tenant's key gets 404, as if the tenant did
	// not exist, so keys cannot probe for other tenants.
	scopeTenant
	// scopeTenantAdmin is a route under /tenants/{tenant} that the tenant's
	// own key may not use (changing the tenant, creating keys): 403 for it,
	// 404 for other tenants' keys.
	scopeTenantAdmin
)

// metaScope is the huma.Operation.Metadata key holding the scope.
const metaScope = "herald.scope"

// metaKeyAtCommit marks an operation whose handler has its transaction
// check the key again (event ingest, the hot path): its key may come from
// what this node looked up within apikey.KeyTTL.
const metaKeyAtCommit = "herald.keyAtCommit"

// principal is the key a request was made with.
type principal struct {
	KeyID    string
	TenantID string // "" for an admin key
}

func (p *principal) admin() bool { return p.TenantID == "" }

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

// authenticate is the huma middleware that checks the key against the
// operation's scope before any input is parsed, and before a byte of the
// body is read (readBody comes after it): a request with a wrong key is
// answered at once, however large a body it announces, and its connection
// is closed rather than drained.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	sc, _ := ctx.Operation().Metadata[metaScope].(scope)
	if sc == scopePublic {
		next(ctx)
		return
	}
	recent, _ := ctx.Operation().Metadata[metaKeyAtCommit].(bool)
	p, err := s.lookupKey(ctx.Context(), ctx.Header("Authorization"), recent)
	if err == nil {
		err = s.authorize(ctx.Context(), p, sc, ctx.Param("tenant"))
	}
	if err != nil {
		r, w := humago.Unwrap(ctx)
		closeUnread(w.Header(), r)
		s.writeError(ctx, err)
		return
	}
	next(huma.WithValue(ctx, principalKey, p))
}

// lookupKey finds the key of an Authorization header; recent lets it
// come from memory (see metaKeyAtCommit).
func (s *Server) lookupKey(ctx context.Context, header string, recent bool) (*principal, error) {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, unauthorized("an API key is required: Authorization: Bearer <key>")
	}
	authenticate := s.keys.Authenticate
	if recent {
		authenticate = s.keys.AuthenticateRecent
	}
	k, err := authenticate(ctx, strings.TrimSpace(key))
	if err != nil {
		return nil, err
	}
	return &principal{KeyID: k.ID, TenantID: k.TenantID}, nil
}

func (s *Server) authorize(ctx context.Context, p *principal, sc scope, tenant string) error {
	switch sc {
	case scopeAnyKey:
		return nil
	case scopeAdmin:
		if !p.admin() {
			return forbidden("this operation needs an admin key")
		}
		return nil
	case scopeTenant, scopeTenantAdmin:
		if !p.admin() && p.TenantID != tenant {
			return notFound("tenant %s not found", tenant)
		}
		if sc == scopeTenantAdmin && !p.admin() {
			return forbidden("a tenant key cannot do this; it needs an admin key")
		}
		// Every route under a tenant answers 404 for a tenant that does not
		// exist, so handlers need not check.
		return s.tenants.Exists(ctx, tenant)
	}
	return forbidden("this operation is not available")
}
