package endpoint

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
)

const (
	// DefaultGrace is how long the replaced secret keeps signing after a
	// rotation, for schemes with room for two signatures: a day lets a
	// receiver deploy the new secret without dropping a delivery.
	DefaultGrace = 24 * time.Hour
	// MaxGrace is the longest grace period a rotation may ask for.
	MaxGrace = 7 * 24 * time.Hour
)

// Config wires a Service. Store and Formats are required.
type Config struct {
	// Base: the store keeps the endpoints, the clock stamps ids, creation
	// and rotation times, the logger gets a line per secret rotation.
	service.Base
	// Formats finds the format an endpoint names.
	Formats *catalog.Catalog
	// AllowPrivateDestinations lets endpoint URLs point at loopback,
	// private, link-local and other internal addresses.
	AllowPrivateDestinations bool
	// CheckURL, when set, replaces delivery.CheckURL as the check of a new
	// or changed URL; an error refuses the URL, and a ValidationError's
	// locations are taken as within the URL's field.
	CheckURL func(ctx context.Context, rawURL string) error
	// MaxInFlight is the server's cap on an endpoint's attempts in flight
	// (--per-endpoint), the most an endpoint's own max_in_flight may be; 0
	// means delivery.DefaultPerEndpoint.
	MaxInFlight int
	// MaxPerTenant is how many endpoints one tenant may have, enabled or
	// not (--max-endpoints-per-tenant): every endpoint may be sent each
	// of the tenant's events and each failure notice, so this bounds what
	// one event can fan out to. 0 means DefaultMaxPerTenant.
	MaxPerTenant int
}

// DefaultMaxPerTenant is how many endpoints a tenant may have unless
// --max-endpoints-per-tenant says otherwise.
const DefaultMaxPerTenant = 100

// Service applies the endpoint rules and stores the result.
type Service struct {
	Config // with its defaults
}

// NewService returns a Service. It does no I/O.
func NewService(cfg *Config) *Service {
	s := &Service{Config: *cfg}
	s.Base = s.Base.Init()
	s.MaxInFlight = cmp.Or(s.MaxInFlight, delivery.DefaultPerEndpoint)
	s.MaxPerTenant = cmp.Or(s.MaxPerTenant, DefaultMaxPerTenant)
	return s
}

// CreateParams is a new endpoint. Only URL is required.
type CreateParams struct {
	URL         string
	Description string
	// Events are the event type filters: "*", "a.*" or exact names; nil
	// means ["*"].
	Events []string
	// Format names the wire format; "" means the catalog's default.
	Format string
	// Secret is the signing secret; "" means a generated one.
	Secret string
	// Enabled nil means enabled.
	Enabled *bool
	// Headers are extra headers sent with every delivery.
	Headers map[string]string
	// RateLimit is at most this many attempts a second; 0 means no limit.
	RateLimit int
	// MaxInFlight caps the endpoint's attempts in flight, at most the
	// server's cap; 0 means the server's.
	MaxInFlight int
	// Metadata is a compact JSON object, or nil.
	Metadata json.RawMessage
}

// UpdateParams changes an endpoint: nil fields stay as they are.
type UpdateParams struct {
	URL         *string
	Description *string
	Events      []string
	Format      *string
	Enabled     *bool
	// Headers replaces every extra header.
	Headers     map[string]string
	RateLimit   *int
	MaxInFlight *int
	// Metadata replaces the metadata (a compact JSON object).
	Metadata json.RawMessage
}

// RotateParams is a secret rotation; the zero value rotates to a generated
// secret with the format's default grace.
type RotateParams struct {
	// Grace is how long the old secret keeps signing too, as a duration
	// ("24h", "0s"); "" means DefaultGrace, or none for schemes with room
	// for one signature only.
	Grace string
	// Secret is the new secret; "" means a generated one.
	Secret string
}

// Get returns one of the tenant's endpoints.
func (s *Service) Get(ctx context.Context, tenantID, endpointID string) (*store.Endpoint, error) {
	e, err := s.Store.EndpointGet(ctx, tenantID, endpointID)
	if err != nil {
		return nil, notFound(err, endpointID)
	}
	return e, nil
}

// List returns a page of the tenant's endpoints, newest first (one more
// than p.Limit when there is a next page, as store lists do).
func (s *Service) List(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Endpoint, error) {
	rows, err := s.Store.EndpointList(ctx, tenantID, p)
	if err != nil {
		return nil, fmt.Errorf("list endpoints of %s: %w", tenantID, err)
	}
	return rows, nil
}

// Delete removes one of the tenant's endpoints.
func (s *Service) Delete(ctx context.Context, tenantID, endpointID string) error {
	return notFound(s.Store.EndpointDelete(ctx, tenantID, endpointID), endpointID)
}

// Create checks and stores a new endpoint for the tenant. It returns the
// endpoint and its secret, which is shown this once.
func (s *Service) Create(ctx context.Context, tenantID string, p *CreateParams) (*store.Endpoint, string, error) {
	f, err := s.format(ctx, p.Format)
	if err != nil {
		return nil, "", err
	}
	now := s.Clock.Now()
	e := &store.Endpoint{
		ID: id.NewAt(id.Endpoint, now), TenantID: tenantID, URL: p.URL, Description: p.Description,
		Events: p.Events, Format: f.Name, Secret: p.Secret, Enabled: p.Enabled == nil || *p.Enabled,
		Headers: p.Headers, RateLimit: p.RateLimit, MaxInFlight: p.MaxInFlight, Metadata: p.Metadata, CreatedAt: now, UpdatedAt: now,
	}
	if e.Events == nil {
		e.Events = []string{"*"}
	}
	var fe herald.Fields
	if e.Secret, err = signature.SecretFor(f.Scheme(), e.Secret); err != nil {
		fe.AddErr("", err)
	}
	fe.Metadata("metadata", e.Metadata)
	s.check(ctx, &fe, e, f, true)
	if err := fe.Err(); err != nil {
		return nil, "", err
	}
	// The cap is counted and the endpoint stored in one transaction, so
	// creates racing on several nodes cannot pass it together.
	created, err := s.Store.EndpointCreateCapped(ctx, e, s.MaxPerTenant)
	if errors.Is(err, store.ErrEndpointLimit) {
		owner := "tenant " + tenantID
		if tenantID == store.OperatorTenant {
			owner = "the operator"
		}
		return nil, "", herald.Errorf(herald.ErrConflict,
			"%s has %d endpoints, the most a tenant may have (--max-endpoints-per-tenant): delete one before creating another", owner, s.MaxPerTenant)
	}
	if err != nil {
		return nil, "", fmt.Errorf("create endpoint: %w", err)
	}
	return created, created.Secret, nil
}

// Update changes the fields p gives and stores the endpoint. A new format
// must suit the endpoint's secret; the URL is checked again only when it
// changes, since the check can resolve the host.
func (s *Service) Update(ctx context.Context, tenantID, endpointID string, p *UpdateParams) (*store.Endpoint, error) {
	e, err := s.Get(ctx, tenantID, endpointID)
	if err != nil {
		return nil, err
	}
	urlChanged := p.URL != nil && *p.URL != e.URL
	if p.URL != nil {
		e.URL = *p.URL
	}
	if p.Events != nil {
		e.Events = p.Events
	}
	if p.Description != nil {
		e.Description = *p.Description
	}
	if p.Enabled != nil {
		e.Enabled = *p.Enabled
	}
	if p.Headers != nil {
		e.Headers = p.Headers
	}
	if p.RateLimit != nil {
		e.RateLimit = *p.RateLimit
	}
	if p.MaxInFlight != nil {
		e.MaxInFlight = *p.MaxInFlight
	}
	if p.Metadata != nil {
		e.Metadata = p.Metadata
	}
	name := e.Format
	if p.Format != nil {
		name = *p.Format
	}
	f, err := s.format(ctx, name)
	if err != nil {
		return nil, err
	}
	var fe herald.Fields
	if f.Name != e.Format {
		if !suits(f, e.Secret) {
			fe.Add("format", "the endpoint's secret does not suit format %q (scheme %s); rotate the secret first, a generated secret suits every scheme", f.Name, f.Scheme())
		}
		e.Format = f.Name
	}
	// Only new metadata is held to the rule: what is stored stays.
	fe.Metadata("metadata", p.Metadata)
	s.check(ctx, &fe, e, f, urlChanged)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	e.UpdatedAt = s.Clock.Now()
	updated, err := s.Store.EndpointUpdate(ctx, e)
	if err != nil {
		return nil, notFound(err, e.ID)
	}
	return updated, nil
}

// RotateSecret replaces the endpoint's secret. During the grace period
// every delivery is signed with the old secret and the new one, so a
// receiver can switch without dropping a delivery; a scheme with room for
// one signature only cannot have one. Each replaced secret keeps its own
// grace: rotating again within it adds a secret rather than dropping the
// one still signing, up to store.MaxPreviousSecrets at once, past which a
// rotation with a grace period is a conflict (one with none is always
// allowed). It returns the endpoint and the new secret, which is shown
// this once.
func (s *Service) RotateSecret(ctx context.Context, tenantID, endpointID string, p *RotateParams) (*store.Endpoint, string, error) {
	e, err := s.Get(ctx, tenantID, endpointID)
	if err != nil {
		return nil, "", err
	}
	f, err := s.Formats.Get(ctx, e.Format)
	if err != nil {
		return nil, "", fmt.Errorf("format %s of endpoint %s: %w", e.Format, e.ID, err)
	}
	grace, err := rotationGrace(f, p.Grace)
	if err != nil {
		return nil, "", err
	}
	secret, err := signature.SecretFor(f.Scheme(), p.Secret)
	if err != nil {
		return nil, "", err
	}
	now := s.Clock.Now()
	prev, err := rotatedSecrets(e, f, now, grace)
	if err != nil {
		return nil, "", err
	}
	e.PreviousSecrets = prev
	e.Secret = secret
	e.UpdatedAt = now
	updated, err := s.Store.EndpointUpdate(ctx, e)
	if err != nil {
		return nil, "", notFound(err, e.ID)
	}
	s.Logger.Info("endpoint secret rotated", "tenant_id", tenantID, "endpoint_id", e.ID, "grace", grace.String())
	return updated, updated.Secret, nil
}

// rotatedSecrets is the replaced secrets an endpoint keeps after a
// rotation at now: those still in their grace period, and, with a grace,
// the secret being replaced first. Dropping a secret still signing is what
// would cut a receiver off, so past store.MaxPreviousSecrets the rotation
// is refused rather than the oldest dropped; a rotation with no grace
// keeps nothing new and so is never refused.
func rotatedSecrets(e *store.Endpoint, f *format.Format, now time.Time, grace time.Duration) ([]store.PreviousSecret, error) {
	if !f.SupportsRotationGrace() {
		return nil, nil // one signature: no replaced secret can sign
	}
	prev := e.ActivePreviousSecrets(now)
	if grace == 0 {
		return prev, nil
	}
	if len(prev) >= store.MaxPreviousSecrets {
		first := prev[0].ExpiresAt
		for _, p := range prev {
			if p.ExpiresAt.Before(first) {
				first = p.ExpiresAt
			}
		}
		return nil, herald.Errorf(herald.ErrConflict,
			"endpoint %s already has %d replaced secrets still signing, the most it may have; the first stops at %s. Rotate after that, or with \"grace\": \"0s\" to replace the current secret at once",
			e.ID, len(prev), first.UTC().Format(time.RFC3339))
	}
	return append([]store.PreviousSecret{{Secret: e.Secret, ReplacedAt: now, ExpiresAt: now.Add(grace)}}, prev...), nil
}

// CheckFormatChange refuses f as the new definition of a stored format when
// an endpoint using it has a secret f's scheme cannot sign with (a plain
// string secret under standard-webhooks, which needs whsec_ and base64):
// every delivery to that endpoint would fail.
func (s *Service) CheckFormatChange(ctx context.Context, f *format.Format) error {
	eps, err := s.Store.EndpointListByFormat(ctx, f.Name)
	if err != nil {
		return fmt.Errorf("endpoints using format %s: %w", f.Name, err)
	}
	for _, ep := range eps {
		if !suits(f, ep.Secret) {
			return herald.Errorf(herald.ErrConflict, "endpoint %s of tenant %s uses format %s with a secret that cannot sign for scheme %s; rotate its secret first (a generated secret suits every scheme)",
				ep.ID, ep.TenantID, f.Name, f.Scheme())
		}
	}
	return nil
}

// suits reports whether an endpoint's secret can sign for its format's
// scheme, the rule an endpoint's secret and format keep together whichever
// of the two changes: the endpoint moving to another format, or its format
// redefined (CheckFormatChange). A new secret is checked by
// signature.SecretFor, which gives the reason.
func suits(f *format.Format, secret string) bool {
	return signature.ValidateSecret(f.Scheme(), secret) == nil
}

// rotationGrace reads a rotation's grace period against the format's
// scheme.
func rotationGrace(f *format.Format, raw string) (time.Duration, error) {
	if raw == "" {
		if f.SupportsRotationGrace() {
			return DefaultGrace, nil
		}
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	switch {
	case err != nil:
		return 0, herald.Invalid("grace", "must be a duration such as 24h, 30m or 0s")
	case d < 0 || d > MaxGrace:
		return 0, herald.Invalid("grace", "must be between 0s and 168h (7 days)")
	case d > 0 && !f.SupportsRotationGrace():
		return 0, f.Signature().CheckRotationGrace("grace")
	}
	return d, nil
}

// format finds the format an endpoint names ("" = the catalog's default);
// a missing one is the caller's error at "format".
func (s *Service) format(ctx context.Context, name string) (*format.Format, error) {
	f, err := s.Formats.Get(ctx, name)
	switch {
	case errors.Is(err, herald.ErrNotFound) && name == "":
		return nil, herald.Invalid("format", "no format given and the server's default format %q does not exist", s.Formats.DefaultName())
	case errors.Is(err, herald.ErrNotFound):
		return nil, herald.Invalid("format", "format %q does not exist", name)
	case err != nil:
		return nil, fmt.Errorf("format %q: %w", name, err)
	}
	return f, nil
}

// check adds the faults of an endpoint about to be stored. The URL check
// can resolve the host, so it runs only when the URL is new.
func (s *Service) check(ctx context.Context, fe *herald.Fields, e *store.Endpoint, f *format.Format, checkURL bool) {
	fe.Text("description", e.Description)
	checkEventFilters(fe, "events", e.Events)
	checkHeaders(fe, "headers", e.Headers, f.Signature().HeaderNames())
	if e.RateLimit < 0 {
		fe.Add("rate_limit", "must be 0 (no limit) or more")
	}
	if e.MaxInFlight < 0 || e.MaxInFlight > s.MaxInFlight {
		fe.Add("max_in_flight", "must be from 0 (the server's cap) to %d, the server's cap on attempts in flight to one endpoint", s.MaxInFlight)
	}
	if checkURL {
		if err := s.checkURL(ctx, e.URL); err != nil {
			fe.AddErr("url", err)
		}
	}
}

// checkURL is delivery.CheckURL (the one definition of an acceptable
// destination, which the sender's dialer enforces again at connect time),
// or Config.CheckURL when one is set.
func (s *Service) checkURL(ctx context.Context, raw string) error {
	if s.CheckURL != nil {
		return s.CheckURL(ctx, raw)
	}
	return delivery.CheckURL(ctx, raw, s.AllowPrivateDestinations, nil)
}

// notFound restates a lookup's ErrNotFound as "endpoint <id> not found"
// and wraps anything else.
func notFound(err error, endpointID string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, herald.ErrNotFound):
		return herald.Errorf(herald.ErrNotFound, "endpoint %s not found", endpointID)
	}
	return fmt.Errorf("endpoint %s: %w", endpointID, err)
}
