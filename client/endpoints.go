package client

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Endpoint is where a tenant's webhooks go.
type Endpoint struct {
	ID          string            `json:"id"`
	TenantID    string            `json:"tenant_id"`
	URL         string            `json:"url"`
	Description string            `json:"description"`
	Events      []string          `json:"events"`
	Format      string            `json:"format"`
	Enabled     bool              `json:"enabled"`
	Status      string            `json:"status"` // "active" or "disabled"
	Headers     map[string]string `json:"headers"`
	RateLimit   int               `json:"rate_limit"`
	MaxInFlight int               `json:"max_in_flight"`
	Metadata    json.RawMessage   `json:"metadata"`
	// Secret is the signing secret, set only in the answers to Create and
	// RotateSecret: the server shows it there and never again.
	Secret string `json:"secret,omitempty"`
	// SecretOmitted is true in a replay of one of those under its
	// Idempotency-Key, which cannot show the secret.
	SecretOmitted bool `json:"secret_omitted,omitempty"`
	// PreviousSecrets are the secrets replaced by rotations that still
	// sign every delivery beside the current one, newest first, each until
	// its own ExpiresAt (never their values); empty when only the current
	// secret signs. PreviousSecretExpiresAt is the last of those times.
	PreviousSecrets         []PreviousSecret `json:"previous_secrets"`
	PreviousSecretExpiresAt *time.Time       `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time        `json:"created_at"`
	UpdatedAt               time.Time        `json:"updated_at"`
	// DisabledReason says why a disabled endpoint is: "gone" (it answered
	// 410), "failing" (its attempts failed for too long), "manual"; nil
	// while enabled. DisabledAt is when.
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	// Health is how its attempts have gone.
	Health EndpointHealth `json:"health"`
}

// PreviousSecret is a secret a rotation replaced that still signs: since
// ReplacedAt (nil if not known), until ExpiresAt.
type PreviousSecret struct {
	ReplacedAt *time.Time `json:"replaced_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// EndpointHealth is how an endpoint's attempts have gone.
type EndpointHealth struct {
	// ConsecutiveFailures counts the failed attempts since the last that
	// succeeded, the first of which started at FailingSince.
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	// LastAttemptAt and LastResponseCode are the latest attempt's (nil
	// before the first; the code is 0 when it got no answer).
	LastAttemptAt    *time.Time `json:"last_attempt_at"`
	LastResponseCode *int       `json:"last_response_code"`
	// Succeeded24h and Failed24h count the attempts of the last 24 hours.
	Succeeded24h int `json:"succeeded_24h"`
	Failed24h    int `json:"failed_24h"`
}

// EndpointCreateParams is a new endpoint. Only URL is required: Events
// defaults to ["*"], Format to the server's default, Secret to a
// generated one, Enabled to true.
type EndpointCreateParams struct {
	URL         string            `json:"url"`
	Events      []string          `json:"events,omitempty"`
	Description string            `json:"description,omitempty"`
	Format      string            `json:"format,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	RateLimit   int               `json:"rate_limit,omitempty"`
	MaxInFlight int               `json:"max_in_flight,omitempty"`
	Metadata    json.RawMessage   `json:"metadata,omitempty"`
}

// EndpointUpdateParams changes the fields that are set (not nil, not
// empty); Headers and Metadata replace the endpoint's whole.
type EndpointUpdateParams struct {
	URL         *string           `json:"url,omitempty"`
	Events      []string          `json:"events,omitempty"`
	Description *string           `json:"description,omitempty"`
	Format      *string           `json:"format,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	RateLimit   *int              `json:"rate_limit,omitempty"`
	MaxInFlight *int              `json:"max_in_flight,omitempty"`
	Metadata    json.RawMessage   `json:"metadata,omitempty"`
}

// RotateSecretParams is a rotation: the new Secret ("" generates one),
// and how long the old one keeps signing too (Grace, "24h"; "" is the
// server's default).
type RotateSecretParams struct {
	Grace  string `json:"grace,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// TestResult is what the receiver answered to a test send.
type TestResult struct {
	DeliveryID   string `json:"delivery_id"`
	Status       string `json:"status"` // "delivered" or "failed"
	ResponseCode int    `json:"response_code"`
	ResponseBody string `json:"response_body"`
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
}

// TestSendParams chooses the event of a test send: Type, an event type of
// the catalog (the format's test event type when ""), and its Data (any
// value encoding/json writes as an object; Herald's test data when nil).
type TestSendParams struct {
	Type string `json:"type,omitempty"`
	Data any    `json:"data,omitempty"`
}

// RetryNowResult says how many retrying deliveries RetryNow made due now.
type RetryNowResult struct {
	Moved int `json:"moved"`
}

// ReplayParams is what a replay sends again: the deliveries to the
// endpoint created at or after Since and before Until (nil: now), in
// Status ("": failed; or delivered), of the event types EventType names
// (an exact name, "a.*" or "*"; "": every type).
type ReplayParams struct {
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until,omitempty"`
	Status    string     `json:"status,omitempty"`
	EventType string     `json:"event_type,omitempty"`
}

// Replay statuses.
const (
	ReplayRunning = "running" // batches are still to come
	ReplayDone    = "done"    // every delivery of the window was looked at
	ReplayFailed  = "failed"  // the endpoint was deleted meanwhile; see Error
)

// Replay is a replay job and how far it got: Queued deliveries sent again
// of Scanned looked at, through the creation time ScannedThrough.
type Replay struct {
	ID             string        `json:"id"`
	TenantID       string        `json:"tenant_id"`
	EndpointID     string        `json:"endpoint_id"`
	Status         string        `json:"status"`
	Queued         int           `json:"queued"`
	Scanned        int           `json:"scanned"`
	ScannedThrough *time.Time    `json:"scanned_through"`
	Since          time.Time     `json:"since"`
	Until          time.Time     `json:"until"`
	Filters        ReplayFilters `json:"filters"`
	Error          *string       `json:"error"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	FinishedAt     *time.Time    `json:"finished_at"`
}

// ReplayFilters are the filters a replay was started with; EventType nil
// is every type.
type ReplayFilters struct {
	Status    string  `json:"status"`
	EventType *string `json:"event_type"`
}

// ReplayResult is the replay a Replay call started.
type ReplayResult = Replay

// EndpointsService is the calls on a tenant's endpoints.
type EndpointsService struct{ c *Client }

// Create creates an endpoint; the answer carries its Secret, shown only
// here.
func (s *EndpointsService) Create(ctx context.Context, tenant string, p *EndpointCreateParams) (*Endpoint, error) {
	return s.one(ctx, "POST", p, "tenants", tenant, "endpoints")
}

// Get reads an endpoint.
func (s *EndpointsService) Get(ctx context.Context, tenant, id string) (*Endpoint, error) {
	return s.one(ctx, "GET", nil, "tenants", tenant, "endpoints", id)
}

// Update changes an endpoint.
func (s *EndpointsService) Update(ctx context.Context, tenant, id string, p *EndpointUpdateParams) (*Endpoint, error) {
	return s.one(ctx, "PATCH", p, "tenants", tenant, "endpoints", id)
}

// RotateSecret replaces an endpoint's secret; the answer carries the new
// one, shown only here.
func (s *EndpointsService) RotateSecret(ctx context.Context, tenant, id string, p *RotateSecretParams) (*Endpoint, error) {
	if p == nil {
		p = &RotateSecretParams{}
	}
	return s.one(ctx, "POST", p, "tenants", tenant, "endpoints", id, "rotate-secret")
}

func (s *EndpointsService) one(ctx context.Context, method string, in any, segments ...string) (*Endpoint, error) {
	path, err := path(segments...)
	if err != nil {
		return nil, err
	}
	var e Endpoint
	if _, err := s.c.Do(ctx, method, path, nil, in, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Delete deletes an endpoint.
func (s *EndpointsService) Delete(ctx context.Context, tenant, id string) error {
	path, err := path("tenants", tenant, "endpoints", id)
	if err != nil {
		return err
	}
	_, err = s.c.Do(ctx, "DELETE", path, nil, nil, nil)
	return err
}

// List reads one page of a tenant's endpoints, newest first.
func (s *EndpointsService) List(ctx context.Context, tenant string, p *ListParams) (*Page[Endpoint], error) {
	path, err := path("tenants", tenant, "endpoints")
	if err != nil {
		return nil, err
	}
	return getPage[Endpoint](ctx, s.c, path, p.query())
}

// All iterates over every endpoint of a tenant, newest first.
func (s *EndpointsService) All(ctx context.Context, tenant string, p *ListParams) iter.Seq2[Endpoint, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Endpoint], error) {
		return s.List(ctx, tenant, withCursor(p, cursor))
	})
}

// Test sends the endpoint a test event now, the format's or the one p
// chooses (nil: the format's), and returns what the receiver answered (a
// failed test is a TestResult with Status "failed", not an error).
func (s *EndpointsService) Test(ctx context.Context, tenant, id string, p *TestSendParams) (*TestResult, error) {
	path, err := path("tenants", tenant, "endpoints", id, "test")
	if err != nil {
		return nil, err
	}
	var body any
	if p != nil && (p.Type != "" || p.Data != nil) {
		q := *p
		if b, ok := p.Data.([]byte); ok {
			q.Data = json.RawMessage(b)
		}
		body = &q
	}
	var r TestResult
	if _, err := s.c.Do(ctx, "POST", path, nil, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RetryNow makes every delivery to the endpoint that is retrying, and due
// later, due now (each goes on with its schedule), for the moment a
// receiver is fixed, and says how many moved.
func (s *EndpointsService) RetryNow(ctx context.Context, tenant, id string) (*RetryNowResult, error) {
	path, err := path("tenants", tenant, "endpoints", id, "retry-now")
	if err != nil {
		return nil, err
	}
	var r RetryNowResult
	if _, err := s.c.Do(ctx, "POST", path, nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Replay starts a replay of the endpoint's deliveries that p names, and
// returns it with its first batch queued: a small replay is done already,
// a longer one goes on in the background (follow it with Replays.Get).
func (s *EndpointsService) Replay(ctx context.Context, tenant, id string, p *ReplayParams) (*ReplayResult, error) {
	path, err := path("tenants", tenant, "endpoints", id, "replay")
	if err != nil {
		return nil, err
	}
	var r ReplayResult
	if _, err := s.c.Do(ctx, "POST", path, nil, p, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
