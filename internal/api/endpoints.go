package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	engine "github.com/heraldhq/herald/internal/delivery"
	endpointsvc "github.com/heraldhq/herald/internal/endpoint"
	eventsvc "github.com/heraldhq/herald/internal/event"
	"github.com/heraldhq/herald/internal/store"
)

// endpoint is an endpoint as the API shows it.
type endpoint struct {
	ID          string            `json:"id" example:"ep_01JH5Z3V6N8QK2R4T7W9Y1B3D5"`
	TenantID    *string           `json:"tenant_id" doc:"The endpoint's tenant; null for an operator endpoint, which is under no tenant."`
	URL         string            `json:"url" example:"https://example.com/webhooks"`
	Description string            `json:"description"`
	Events      []string          `json:"events" nullable:"false" example:"[\"user.created\",\"project.*\"]"`
	Format      string            `json:"format" example:"standard-webhooks"`
	Enabled     bool              `json:"enabled"`
	Status      string            `json:"status" enum:"active,disabled"`
	Headers     map[string]string `json:"headers"`
	RateLimit   int               `json:"rate_limit" doc:"At most this many attempts per second; 0 = no limit."`
	MaxInFlight int               `json:"max_in_flight" doc:"At most this many attempts in flight at once, across all nodes; 0 = the server's cap, which also bounds it."`
	Metadata    jsonObject        `json:"metadata"`
	Secret      string            `json:"secret,omitempty" doc:"Only in the answers to create and rotate-secret."`
	// SecretOmitted marks the replay of a create or rotate-secret under its
	// Idempotency-Key: the secret is never stored with the answer.
	SecretOmitted bool `json:"secret_omitted,omitempty" doc:"true, and no secret, in a replay of a create or rotate-secret under its Idempotency-Key: the answer is kept without the secret. Rotate the secret if the first answer was lost."`
	// PreviousSecrets are the replaced secrets still signing, never their
	// values.
	PreviousSecrets []previousSecret `json:"previous_secrets" nullable:"false" doc:"The secrets replaced by rotations that still sign every delivery beside the current one, newest first, each until its own expires_at; their values are never shown. Empty when only the current secret signs."`
	// PreviousSecretExpiresAt is when the last of PreviousSecrets stops
	// signing.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" doc:"While set, deliveries are also signed with secrets replaced by rotations: the time the last of previous_secrets stops signing."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	DisabledReason          *string    `json:"disabled_reason" enum:"gone,failing,manual" doc:"Why it is disabled: gone (it answered 410), failing (every attempt failed for longer than --disable-after), manual (enabled set to false); null while enabled."`
	DisabledAt              *time.Time `json:"disabled_at" doc:"When it was disabled; null while enabled."`
	Health                  health     `json:"health"`
}

// health is what the recorded attempts say of an endpoint.
type health struct {
	ConsecutiveFailures int        `json:"consecutive_failures" doc:"Failed attempts since the last that succeeded."`
	FailingSince        *time.Time `json:"failing_since" doc:"When the first of them started; null when the last attempt succeeded or none was made."`
	LastAttemptAt       *time.Time `json:"last_attempt_at" doc:"When the latest attempt started; null before the first."`
	LastResponseCode    *int       `json:"last_response_code" doc:"Its HTTP status, 0 when it got no response; null before the first."`
	Succeeded24h        int        `json:"succeeded_24h" doc:"Attempts that succeeded in the last 24 hours (to the hour)."`
	Failed24h           int        `json:"failed_24h" doc:"Attempts that failed in the last 24 hours (to the hour)."`
}

func healthFrom(h *store.EndpointHealth) health {
	out := health{
		ConsecutiveFailures: h.ConsecutiveFailures, FailingSince: utcPtr(h.FailingSince),
		LastAttemptAt: utcPtr(h.LastAttemptAt), Succeeded24h: h.Succeeded24h, Failed24h: h.Failed24h,
	}
	if h.LastAttemptAt != nil {
		out.LastResponseCode = &h.LastResponseCode
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// previousSecret is a replaced secret still signing, without its value.
type previousSecret struct {
	ReplacedAt *time.Time `json:"replaced_at" doc:"When a rotation replaced it; null if not known (replaced before Herald kept the time)."`
	ExpiresAt  time.Time  `json:"expires_at" doc:"When its grace period ends and it stops signing."`
}

// endpointFrom shows e, with secret when it is the answer to a create or a
// rotation ("" otherwise).
func endpointFrom(e *store.Endpoint, secret string, now time.Time) endpoint {
	out := endpoint{
		ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events,
		Format: e.Format, Enabled: e.Enabled, Status: "disabled", Headers: e.Headers, RateLimit: e.RateLimit,
		MaxInFlight: e.MaxInFlight, Metadata: metadata(e.Metadata), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
	if e.TenantID != store.OperatorTenant {
		tenant := e.TenantID
		out.TenantID = &tenant
	}
	if e.Enabled {
		out.Status = "active"
	} else {
		reason := cmp.Or(e.DisabledReason, store.DisabledManual)
		out.DisabledReason, out.DisabledAt = &reason, utcPtr(e.DisabledAt)
	}
	out.Health = healthFrom(&e.Health)
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if out.Events == nil {
		out.Events = []string{}
	}
	out.Secret = secret
	out.PreviousSecrets = []previousSecret{}
	for _, p := range e.ActivePreviousSecrets(now) {
		ps := previousSecret{ExpiresAt: p.ExpiresAt.UTC()}
		if !p.ReplacedAt.IsZero() {
			t := p.ReplacedAt.UTC()
			ps.ReplacedAt = &t
		}
		out.PreviousSecrets = append(out.PreviousSecrets, ps)
		if out.PreviousSecretExpiresAt == nil || ps.ExpiresAt.After(*out.PreviousSecretExpiresAt) {
			t := ps.ExpiresAt
			out.PreviousSecretExpiresAt = &t
		}
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
	MaxInFlight int               `json:"max_in_flight,omitempty" minimum:"0" doc:"Cap on attempts in flight; 0 = the server's (--per-endpoint), which is also the most allowed."`
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
	MaxInFlight *int              `json:"max_in_flight,omitempty" minimum:"0"`
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

// testResult is the answer to a test send.
type testResult struct {
	DeliveryID   string `json:"delivery_id"`
	Status       string `json:"status"`
	ResponseCode int    `json:"response_code"`
	ResponseBody string `json:"response_body"`
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
}

type testOutput struct {
	Body *testResult
}

type testInput struct {
	Tenant   string `path:"tenant" doc:"Tenant id."`
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     *struct {
		Type string     `json:"type,omitempty" maxLength:"128" example:"user.created" doc:"An event type of the catalog to send instead of the format's test event type; it must not be archived."`
		Data jsonObject `json:"data,omitempty" doc:"The event's data instead of Herald's test data: a JSON object, matching the type's schema when it has one (then it is required)."`
	}
}

type retryNowOutput struct {
	Body struct {
		Moved int `json:"moved" doc:"How many retrying deliveries had their next attempt brought to now."`
	}
}

func (s *Server) registerEndpoints() {
	const base = "/api/v1/tenants/{tenant}/endpoints"
	tags := []string{"Endpoints"}
	register(s, huma.Operation{
		OperationID: "create-endpoint", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Create an endpoint", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "A tenant may have --max-endpoints-per-tenant endpoints (default 100); past it a create is 409.",
		Metadata:    map[string]any{metaSecretMember: "secret"},
	}, scopeTenant, func(ctx context.Context, in *endpointCreateInput) (*endpointOutput, error) {
		return s.createEndpoint(ctx, in.Tenant, &in.Body)
	})
	register(s, huma.Operation{
		OperationID: "list-endpoints", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List endpoints", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointListInput) (*pageOutput[endpoint], error) {
		return s.listEndpoints(ctx, in.Tenant, in.Limit, in.Cursor)
	})
	register(s, huma.Operation{
		OperationID: "get-endpoint", Method: http.MethodGet, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Get an endpoint", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPath) (*endpointOutput, error) {
		return s.getEndpoint(ctx, in.Tenant, in.Endpoint)
	})
	register(s, huma.Operation{
		OperationID: "update-endpoint", Method: http.MethodPatch, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Change an endpoint", Description: "Only the fields given change.", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPatchInput) (*endpointOutput, error) {
		return s.updateEndpoint(ctx, in.Tenant, in.Endpoint, &in.Body)
	})
	register(s, huma.Operation{
		OperationID: "delete-endpoint", Method: http.MethodDelete, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Delete an endpoint", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPath) (*struct{}, error) {
		return nil, s.endpoints.Delete(ctx, in.Tenant, in.Endpoint)
	})
	register(s, huma.Operation{
		OperationID: "rotate-endpoint-secret", Method: http.MethodPost, Path: base + "/{endpoint}/rotate-secret", Tags: tags,
		Summary:     "Replace an endpoint's secret",
		Description: "During the grace period every delivery carries signatures by the old and the new secret. Each replaced secret keeps its own grace period; with 5 still signing, a rotation with a grace period is 409 (one with grace 0s is not).",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
		Metadata:    map[string]any{metaSecretMember: "secret"},
	}, scopeTenant, s.rotateSecret)
	register(s, huma.Operation{
		OperationID: "test-endpoint", Method: http.MethodPost, Path: base + "/{endpoint}/test", Tags: tags,
		Summary:     "Send a test event now",
		Description: "Sends the format's test event, or an event of the type and data given, and answers once the receiver has answered (or the attempt failed). The attempt counts against the endpoint's cap on attempts in flight and the tenant's share; with no room within 2 seconds it is 429 with Retry-After. It ends with the request: a caller that goes away cancels it, and the delivery fails.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, scopeTenant, s.testEndpoint)
	register(s, huma.Operation{
		OperationID: "retry-now-endpoint", Method: http.MethodPost, Path: base + "/{endpoint}/retry-now", Tags: tags,
		Summary:     "Bring every retrying delivery to this endpoint to now",
		Description: "Every delivery to this endpoint that is retrying and due later is due now, going on with its retry schedule; answers how many moved. Deliveries still wait while the endpoint is disabled.",
		Errors:      []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointPath) (*retryNowOutput, error) {
		n, err := s.deliveries.RetryNow(ctx, in.Tenant, in.Endpoint)
		if err != nil {
			return nil, err
		}
		out := &retryNowOutput{}
		out.Body.Moved = n
		return out, nil
	})
	register(s, huma.Operation{
		OperationID: "list-endpoint-deliveries", Method: http.MethodGet, Path: base + "/{endpoint}/deliveries", Tags: tags,
		Summary: "List an endpoint's deliveries", Errors: []int{http.StatusNotFound},
	}, scopeTenant, func(ctx context.Context, in *endpointDeliveriesInput) (*pageOutput[delivery], error) {
		if _, err := s.endpoints.Get(ctx, in.Tenant, in.Endpoint); err != nil {
			return nil, err
		}
		return s.listDeliveries(ctx, in.Tenant, in.Limit, in.Cursor, &store.DeliveryListParams{
			Status: in.Status, EndpointID: in.Endpoint, EventType: in.EventType, Since: in.Since, Until: in.Until,
		})
	})
}

// listEndpoints, getEndpoint, createEndpoint and updateEndpoint serve a
// tenant's endpoints and the operator's (store.OperatorTenant) alike.
func (s *Server) listEndpoints(ctx context.Context, tenant string, limit int, cursor string) (*pageOutput[endpoint], error) {
	p, err := s.listParams(limit, cursor)
	if err != nil {
		return nil, err
	}
	rows, err := s.endpoints.List(ctx, tenant, &p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return pageOf(rows, &p, func(e *store.Endpoint) endpoint { return endpointFrom(e, "", now) }), nil
}

func (s *Server) getEndpoint(ctx context.Context, tenant, id string) (*endpointOutput, error) {
	e, err := s.endpoints.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return &endpointOutput{Body: endpointFrom(e, "", s.now())}, nil
}

func (s *Server) createEndpoint(ctx context.Context, tenant string, b *endpointCreate) (*endpointOutput, error) {
	meta, err := b.Metadata.compact()
	if err != nil {
		return nil, herald.Invalid("body.metadata", "must be a JSON object")
	}
	e, secret, err := s.endpoints.Create(ctx, tenant, &endpointsvc.CreateParams{
		URL: b.URL, Description: b.Description, Events: b.Events, Format: b.Format, Secret: b.Secret,
		Enabled: b.Enabled, Headers: b.Headers, RateLimit: b.RateLimit, MaxInFlight: b.MaxInFlight, Metadata: meta,
	})
	if err != nil {
		return nil, inBody(err)
	}
	return &endpointOutput{Body: endpointFrom(e, secret, s.now())}, nil
}

func (s *Server) updateEndpoint(ctx context.Context, tenant, id string, b *endpointPatch) (*endpointOutput, error) {
	p := &endpointsvc.UpdateParams{
		URL: b.URL, Description: b.Description, Events: b.Events, Format: b.Format,
		Enabled: b.Enabled, Headers: b.Headers, RateLimit: b.RateLimit, MaxInFlight: b.MaxInFlight,
	}
	if b.Metadata != nil {
		meta, err := b.Metadata.compact()
		if err != nil {
			return nil, herald.Invalid("body.metadata", "must be a JSON object")
		}
		p.Metadata = meta
	}
	e, err := s.endpoints.Update(ctx, tenant, id, p)
	if err != nil {
		return nil, inBody(err)
	}
	return &endpointOutput{Body: endpointFrom(e, "", s.now())}, nil
}

func (s *Server) rotateSecret(ctx context.Context, in *rotateInput) (*endpointOutput, error) {
	var p endpointsvc.RotateParams
	if in.Body != nil {
		p.Grace, p.Secret = in.Body.Grace, in.Body.Secret
	}
	e, secret, err := s.endpoints.RotateSecret(ctx, in.Tenant, in.Endpoint, &p)
	if err != nil {
		return nil, inBody(err)
	}
	return &endpointOutput{Body: endpointFrom(e, secret, s.now())}, nil
}

func (s *Server) testEndpoint(ctx context.Context, in *testInput) (*testOutput, error) {
	if s.cfg.Tester == nil {
		return nil, newProblem(http.StatusServiceUnavailable, "test sends are not available on this server")
	}
	var tp eventsvc.TestParams
	if in.Body != nil {
		tp.Type = in.Body.Type
		if in.Body.Data != nil {
			tp.Data = in.Body.Data
		}
	}
	data, err := s.events.CheckTest(ctx, &tp)
	if err != nil {
		return nil, inBody(err)
	}
	// The tester reads the endpoint itself; a missing one is its 404.
	res, err := s.cfg.Tester.TestWith(ctx, in.Tenant, in.Endpoint, &engine.TestParams{Type: tp.Type, Data: data})
	if err != nil {
		return nil, missing(err, "endpoint", in.Endpoint)
	}
	return &testOutput{Body: &testResult{
		DeliveryID: res.DeliveryID, Status: res.Status, ResponseCode: res.ResponseCode,
		ResponseBody: res.ResponseBody, DurationMS: res.DurationMS, Error: res.Error,
	}}, nil
}

// inBody places a service's field errors in the request body, where the
// API's inputs have those fields ("url" is at "body.url").
func inBody(err error) error {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return ve.Prefix("body")
	}
	return err
}
