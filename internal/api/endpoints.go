package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	engine "github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
)

const (
	defaultGrace = 24 * time.Hour
	maxGrace     = 7 * 24 * time.Hour
)

// endpoint is an endpoint as the API shows it.
type endpoint struct {
	ID          string            `json:"id" example:"ep_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	TenantID    string            `json:"tenant_id"`
	URL         string            `json:"url" example:"https://example.com/webhooks"`
	Description string            `json:"description"`
	Events      []string          `json:"events" nullable:"false" example:"[\"user.created\",\"project.*\"]"`
	Format      string            `json:"format" example:"standard-webhooks"`
	Enabled     bool              `json:"enabled"`
	Status      string            `json:"status" enum:"active,disabled"`
	Headers     map[string]string `json:"headers"`
	RateLimit   int               `json:"rate_limit" doc:"At most this many attempts per second; 0 = no limit."`
	Metadata    jsonObject        `json:"metadata"`
	Secret      string            `json:"secret,omitempty" doc:"Only in the answers to create and rotate-secret."`
	// PreviousSecretExpiresAt is when the secret replaced by the last
	// rotation stops signing.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" doc:"While set, deliveries are also signed with the secret the last rotation replaced."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func endpointFrom(e *store.Endpoint, withSecret bool, now time.Time) endpoint {
	out := endpoint{
		ID: e.ID, TenantID: e.TenantID, URL: e.URL, Description: e.Description, Events: e.Events,
		Format: e.Format, Enabled: e.Enabled, Status: "disabled", Headers: e.Headers, RateLimit: e.RateLimit,
		Metadata: metadata(e.Metadata), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
	if e.Enabled {
		out.Status = "active"
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if out.Events == nil {
		out.Events = []string{}
	}
	if withSecret {
		out.Secret = e.Secret
	}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(now) {
		t := e.PreviousSecretExpiresAt.UTC()
		out.PreviousSecretExpiresAt = &t
	}
	return out
}

type endpointOutput struct {
	Body endpoint
}

type endpointPath struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
}

type endpointCreate struct {
	URL         string            `json:"url" maxLength:"2048" example:"https://example.com/webhooks"`
	Events      []string          `json:"events,omitempty" maxItems:"100" doc:"Event type filters: \"*\", \"a.*\" or exact names. Default [\"*\"]."`
	Description string            `json:"description,omitempty" maxLength:"1024"`
	Format      string            `json:"format,omitempty" maxLength:"64" doc:"Wire format name; the server's default when absent."`
	Secret      string            `json:"secret,omitempty" maxLength:"256" doc:"Signing secret; generated when absent."`
	Enabled     *bool             `json:"enabled,omitempty" doc:"Default true."`
	Headers     map[string]string `json:"headers,omitempty" doc:"Extra headers sent with every delivery."`
	RateLimit   int               `json:"rate_limit,omitempty" minimum:"0" maximum:"100000"`
	Metadata    jsonObject        `json:"metadata,omitempty"`
}

type endpointCreateInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Body   endpointCreate
}

type endpointPatch struct {
	URL         *string           `json:"url,omitempty" maxLength:"2048"`
	Events      []string          `json:"events,omitempty" maxItems:"100"`
	Description *string           `json:"description,omitempty" maxLength:"1024"`
	Format      *string           `json:"format,omitempty" maxLength:"64"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Headers     map[string]string `json:"headers,omitempty" doc:"Replaces every extra header."`
	RateLimit   *int              `json:"rate_limit,omitempty" minimum:"0" maximum:"100000"`
	Metadata    jsonObject        `json:"metadata,omitempty" doc:"Replaces the metadata."`
}

type endpointPatchInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     endpointPatch
}

type endpointListInput struct {
	Tenant string `path:"tenant" doc:"Tenant id."`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
}

type rotateInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     *struct {
		Grace  string `json:"grace,omitempty" example:"24h" doc:"How long the old secret keeps signing too: 0s to 168h; default 24h, or 0s for schemes with room for one signature."`
		Secret string `json:"secret,omitempty" maxLength:"256" doc:"The new secret; generated when absent."`
	}
}

type testOutput struct {
	Body *engine.TestResult
}

type replayInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     struct {
		Since time.Time  `json:"since" doc:"Replay failed deliveries created at or after this time."`
		Until *time.Time `json:"until,omitempty" doc:"... and before this time; default now."`
	}
}

type replayOutput struct {
	Body struct {
		Queued int `json:"queued" doc:"How many failed deliveries were queued again."`
	}
}

func (s *Server) registerEndpoints() {
	const base = "/api/v1/tenants/{tenant}/endpoints"
	tags := []string{"Endpoints"}
	register(s, huma.Operation{
		OperationID: "create-endpoint", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Create an endpoint", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
	}, scopeTenant, s.createEndpoint)
	register(s, huma.Operation{
		OperationID: "list-endpoints", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List endpoints", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointListInput) (*pageOutput[endpoint], error) {
		p, err := listParams(in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		rows, err := s.st.EndpointList(ctx, in.Tenant, &p)
		if err != nil {
			return nil, err
		}
		now := s.now()
		return pageOf(rows, in.Limit, func(e *store.Endpoint) endpoint { return endpointFrom(e, false, now) }), nil
	})
	register(s, huma.Operation{
		OperationID: "get-endpoint", Method: http.MethodGet, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Get an endpoint", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPath) (*endpointOutput, error) {
		e, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint)
		if err != nil {
			return nil, err
		}
		return &endpointOutput{Body: endpointFrom(e, false, s.now())}, nil
	})
	register(s, huma.Operation{
		OperationID: "update-endpoint", Method: http.MethodPatch, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Change an endpoint", Description: "Only the fields given change.", Errors: []int{http.StatusNotFound},
	}, scopeTenant, s.updateEndpoint)
	register(s, huma.Operation{
		OperationID: "delete-endpoint", Method: http.MethodDelete, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Delete an endpoint", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPath) (*struct{}, error) {
		return nil, missing(s.st.EndpointDelete(ctx, in.Tenant, in.Endpoint), "endpoint", in.Endpoint)
	})
	register(s, huma.Operation{
		OperationID: "rotate-endpoint-secret", Method: http.MethodPost, Path: base + "/{endpoint}/rotate-secret", Tags: tags,
		Summary:     "Replace an endpoint's secret",
		Description: "During the grace period every delivery carries signatures by the old and the new secret.",
		Errors:      []int{http.StatusNotFound},
	}, scopeTenant, s.rotateSecret)
	register(s, huma.Operation{
		OperationID: "test-endpoint", Method: http.MethodPost, Path: base + "/{endpoint}/test", Tags: tags,
		Summary:     "Send the format's test event now",
		Description: "Answers once the receiver has answered (or the attempt failed).",
		Errors:      []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, scopeTenant, s.testEndpoint)
	register(s, huma.Operation{
		OperationID: "replay-endpoint", Method: http.MethodPost, Path: base + "/{endpoint}/replay", Tags: tags,
		Summary:       "Queue again every failed delivery to this endpoint in a time window",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound},
	}, scopeTenant, s.replayEndpoint)
	register(s, huma.Operation{
		OperationID: "list-endpoint-deliveries", Method: http.MethodGet, Path: base + "/{endpoint}/deliveries", Tags: tags,
		Summary: "List an endpoint's deliveries", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointDeliveriesInput) (*pageOutput[delivery], error) {
		if _, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint); err != nil {
			return nil, err
		}
		return s.listDeliveries(ctx, in.Tenant, in.Limit, in.Cursor, &store.DeliveryListParams{Status: in.Status, EndpointID: in.Endpoint})
	})
}

func (s *Server) getEndpoint(ctx context.Context, tenant, endpointID string) (*store.Endpoint, error) {
	e, err := s.st.EndpointGet(ctx, tenant, endpointID)
	return e, missing(err, "endpoint", endpointID)
}

func (s *Server) createEndpoint(ctx context.Context, in *endpointCreateInput) (*endpointOutput, error) {
	b := &in.Body
	f, err := s.endpointFormat(ctx, b.Format)
	if err != nil {
		return nil, err
	}
	now := s.now()
	e := &store.Endpoint{
		ID: id.NewAt(id.Endpoint, now), TenantID: in.Tenant, URL: b.URL, Description: b.Description,
		Events: b.Events, Format: f.Name, Secret: b.Secret, Enabled: b.Enabled == nil || *b.Enabled,
		Headers: b.Headers, RateLimit: b.RateLimit, CreatedAt: now, UpdatedAt: now,
	}
	if e.Events == nil {
		e.Events = []string{"*"}
	}
	var fe fields
	if e.Metadata, err = b.Metadata.compact(); err != nil {
		fe.add("body.metadata", "must be a JSON object")
	}
	if e.Secret == "" {
		e.Secret = signature.GenerateSecret()
	} else if err := signature.ValidateSecret(f.Scheme(), e.Secret); err != nil {
		fe.addErr("body", err)
	}
	s.checkEndpoint(ctx, &fe, e, f, true)
	if err := fe.err(); err != nil {
		return nil, err
	}
	created, err := s.st.EndpointCreate(ctx, e)
	if err != nil {
		return nil, err
	}
	return &endpointOutput{Body: endpointFrom(created, true, now)}, nil
}

func (s *Server) updateEndpoint(ctx context.Context, in *endpointPatchInput) (*endpointOutput, error) {
	e, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint)
	if err != nil {
		return nil, err
	}
	b := &in.Body
	var fe fields
	urlChanged := b.URL != nil && *b.URL != e.URL
	if b.URL != nil {
		e.URL = *b.URL
	}
	if b.Events != nil {
		e.Events = b.Events
	}
	if b.Description != nil {
		e.Description = *b.Description
	}
	if b.Enabled != nil {
		e.Enabled = *b.Enabled
	}
	if b.Headers != nil {
		e.Headers = b.Headers
	}
	if b.RateLimit != nil {
		e.RateLimit = *b.RateLimit
	}
	if b.Metadata != nil {
		if e.Metadata, err = b.Metadata.compact(); err != nil {
			fe.add("body.metadata", "must be a JSON object")
		}
	}
	name := e.Format
	if b.Format != nil {
		name = *b.Format
	}
	f, err := s.endpointFormat(ctx, name)
	if err != nil {
		return nil, err
	}
	if f.Name != e.Format {
		if signature.ValidateSecret(f.Scheme(), e.Secret) != nil {
			fe.add("body.format", "the endpoint's secret does not suit format %q (scheme %s); rotate the secret first, a generated secret suits every scheme", f.Name, f.Scheme())
		}
		e.Format = f.Name
	}
	s.checkEndpoint(ctx, &fe, e, f, urlChanged)
	if err := fe.err(); err != nil {
		return nil, err
	}
	now := s.now()
	e.UpdatedAt = now
	updated, err := s.st.EndpointUpdate(ctx, e)
	if err != nil {
		return nil, missing(err, "endpoint", e.ID)
	}
	return &endpointOutput{Body: endpointFrom(updated, false, now)}, nil
}

// endpointFormat finds the format an endpoint names ("" = the server's
// default); a missing one is the client's error at body.format.
func (s *Server) endpointFormat(ctx context.Context, name string) (*format.Format, error) {
	f, err := s.formats.Get(ctx, name)
	switch {
	case errors.Is(err, herald.ErrNotFound) && name == "":
		return nil, herald.Invalid("body.format", "no format given and the server's default format %q does not exist", s.formats.DefaultName())
	case errors.Is(err, herald.ErrNotFound):
		return nil, herald.Invalid("body.format", "format %q does not exist", name)
	}
	return f, err
}

// checkEndpoint adds the faults of an endpoint about to be stored. The URL
// check can resolve the host, so it runs only when the URL is new.
func (s *Server) checkEndpoint(ctx context.Context, fe *fields, e *store.Endpoint, f *format.Format, checkURL bool) {
	fe.text("body.description", e.Description)
	checkEventFilters(fe, "body.events", e.Events)
	checkHeaders(fe, "body.headers", e.Headers, f.Signature().HeaderNames())
	if e.RateLimit < 0 {
		fe.add("body.rate_limit", "must be 0 (no limit) or more")
	}
	if checkURL {
		if err := s.checkURL(ctx, e.URL); err != nil {
			fe.addErr("", err)
		}
	}
}

func (s *Server) rotateSecret(ctx context.Context, in *rotateInput) (*endpointOutput, error) {
	e, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint)
	if err != nil {
		return nil, err
	}
	f, err := s.formats.Get(ctx, e.Format)
	if err != nil {
		return nil, err
	}
	grace := time.Duration(0)
	if f.SupportsRotationGrace() {
		grace = defaultGrace
	}
	secret := ""
	if in.Body != nil {
		secret = in.Body.Secret
		if in.Body.Grace != "" {
			d, err := time.ParseDuration(in.Body.Grace)
			switch {
			case err != nil:
				return nil, herald.Invalid("body.grace", "must be a duration such as 24h, 30m or 0s")
			case d < 0 || d > maxGrace:
				return nil, herald.Invalid("body.grace", "must be between 0s and 168h (7 days)")
			case d > 0 && !f.SupportsRotationGrace():
				return nil, f.Signature().CheckRotationGrace("body.grace")
			}
			grace = d
		}
	}
	if secret == "" {
		secret = signature.GenerateSecret()
	} else if err := signature.ValidateSecret(f.Scheme(), secret); err != nil {
		var fe fields
		fe.addErr("body", err)
		return nil, fe.err()
	}
	now := s.now()
	e.PreviousSecret, e.PreviousSecretExpiresAt = "", nil
	if grace > 0 {
		exp := now.Add(grace)
		e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &exp
	}
	e.Secret = secret
	e.UpdatedAt = now
	updated, err := s.st.EndpointUpdate(ctx, e)
	if err != nil {
		return nil, missing(err, "endpoint", e.ID)
	}
	return &endpointOutput{Body: endpointFrom(updated, true, now)}, nil
}

func (s *Server) testEndpoint(ctx context.Context, in *endpointPath) (*testOutput, error) {
	if s.cfg.Tester == nil {
		return nil, newProblem(http.StatusServiceUnavailable, "test sends are not available on this server")
	}
	if _, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint); err != nil {
		return nil, err
	}
	res, err := s.cfg.Tester.Test(ctx, in.Tenant, in.Endpoint)
	if err != nil {
		return nil, missing(err, "endpoint", in.Endpoint)
	}
	return &testOutput{Body: res}, nil
}

func (s *Server) replayEndpoint(ctx context.Context, in *replayInput) (*replayOutput, error) {
	if _, err := s.getEndpoint(ctx, in.Tenant, in.Endpoint); err != nil {
		return nil, err
	}
	now := s.now()
	until := now
	if in.Body.Until != nil {
		until = *in.Body.Until
	}
	if !until.After(in.Body.Since) {
		return nil, herald.Invalid("body.until", "must be after since")
	}
	n, err := s.st.DeliveryReplay(ctx, in.Tenant, in.Endpoint, in.Body.Since, until, now)
	if err != nil {
		return nil, err
	}
	out := &replayOutput{}
	out.Body.Queued = n
	return out, nil
}
