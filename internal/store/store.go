package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/secretbox"
)

// Error kinds the drivers return. They are the herald kinds, re-exported so
// callers of the store need only this package.
var (
	ErrNotFound     = herald.ErrNotFound
	ErrConflict     = herald.ErrConflict
	ErrUnauthorized = herald.ErrUnauthorized
)

// Writers is how many ingest batches one node of st commits at once: what
// its WritersHint says, or 1 for a store that does not say (SQLite, whose
// single writer runs them one after another). PostgreSQL's says 1 too:
// there the batches that hand deliveries off take turns at the claims'
// lock (docs/design.md).
func Writers(st Store) int {
	if h, ok := st.(interface{ WritersHint() int }); ok {
		return max(h.WritersHint(), 1)
	}
	return 1
}

// ClaimGap is the least time a delivery engine on st leaves between a
// claim that came back short and the next: what st's ClaimGapHint says
// (PostgreSQL's, whose claims take turns with ingest's hand-offs), or none
// (SQLite's single writer runs claims and ingest in turn anyway).
func ClaimGap(st Store) time.Duration {
	if h, ok := st.(interface{ ClaimGapHint() time.Duration }); ok {
		return max(h.ClaimGapHint(), 0)
	}
	return 0
}

// ClaimProbe reports whether a delivery engine on st makes a claim after
// one that found nothing probe for room first (DeliveryClaimParams.Probe):
// what st's ClaimProbeHint says (PostgreSQL's, whose empty claims held the
// lock ingest's hand-offs wait for), or not (SQLite, whose claims take its
// single writer only for as long as its in-process read of the rooms,
// and where the probe's read before each claim that finds room delayed
// the deliveries the hand-off held; docs/design.md).
func ClaimProbe(st Store) bool {
	if h, ok := st.(interface{ ClaimProbeHint() bool }); ok {
		return h.ClaimProbeHint()
	}
	return false
}

// ErrEndpointLimit is returned by EndpointCreateCapped when the tenant
// already has as many endpoints as it may.
var ErrEndpointLimit = errors.New("the tenant has as many endpoints as it may have")

// ErrLeaseLost is returned when a worker records an attempt for a delivery
// whose lease it no longer holds (it expired and another worker claimed it).
var ErrLeaseLost = &leaseLostError{}

type leaseLostError struct{}

func (*leaseLostError) Error() string { return "delivery lease lost" }

// Delivery statuses. See docs/delivery.md for the state machine.
const (
	StatusPending    = "pending"
	StatusDelivering = "delivering"
	StatusRetrying   = "retrying"
	StatusDelivered  = "delivered"
	StatusFailed     = "failed"
)

// Event sources: why an event exists. Failure events never raise another
// failure event, which is what keeps failure notifications from looping.
const (
	SourceAPI     = "api"
	SourceTest    = "test"
	SourceFailure = "failure"
)

// OperatorTenant is the tenant that owns the operator's endpoints
// (/api/v1/operator/endpoints), made by migration 12. No user can choose
// its id (tenant ids are [A-Za-z0-9_.-]), and the Tenant methods leave it
// out: TenantGet, TenantUpdate and TenantDelete do not find it and
// TenantList does not list it, so no tenant route, tenant key or portal
// link can reach it. Its endpoints, events and deliveries are like any
// tenant's: the engine delivers them, retries them and keeps their health.
const OperatorTenant = "herald:operator"

// MigrateResult is what a MigrateUp did.
type MigrateResult struct {
	// Applied are the migrations applied, oldest first.
	Applied []Migration
	// Version is the schema's version after: the number of its latest
	// migration.
	Version int64
}

// Migration is one migration applied.
type Migration struct {
	Version  int64
	Name     string // its file, 00001_init.sql
	Duration time.Duration
}

// Store is everything Herald keeps. Both drivers implement it and both pass
// storetest.Run. Every method that reads one object returns ErrNotFound when
// it is missing, never nil, nil. Objects scoped to a tenant are looked up by
// (tenantID, id) so one tenant can never reach another's.
type Store interface {
	// Migrate brings the schema up to date. Safe to run on every start and
	// from several nodes at once.
	Migrate(ctx context.Context) error
	// MigrateUp is Migrate saying what it did: the migrations this call
	// applied, oldest first (none when the schema was up to date, or
	// another node applied them), and the schema's version after.
	MigrateUp(ctx context.Context) (*MigrateResult, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error

	// The Tenant methods see the users' tenants only: OperatorTenant is
	// ErrNotFound to TenantGet, TenantUpdate and TenantDelete, in no
	// TenantList and ErrConflict to TenantCreate.
	TenantCreate(ctx context.Context, t *Tenant) (*Tenant, error) // ErrConflict if the id exists
	TenantGet(ctx context.Context, id string) (*Tenant, error)
	// List methods return a page and at most one row more; see ListParams
	// and Page.
	TenantList(ctx context.Context, p *ListParams) ([]*Tenant, error)
	TenantUpdate(ctx context.Context, t *Tenant) (*Tenant, error)
	TenantDelete(ctx context.Context, id string) error // deletes everything the tenant owns, its idempotency records too

	// SettingInit returns the stored value of a server-wide setting, first
	// storing value when the setting has none: of several nodes racing to
	// make it, every one gets the value that won.
	SettingInit(ctx context.Context, name, value string) (string, error)

	// KeyCreate stores a key by its hash. TenantID "" makes an admin key.
	KeyCreate(ctx context.Context, k *Key) (*Key, error)
	KeyGetByHash(ctx context.Context, hash string) (*Key, error)
	// KeyAdminExists reports whether any admin key is stored.
	KeyAdminExists(ctx context.Context) (bool, error)
	// KeyList pages through the keys of a tenant, or with tenantID "" the
	// admin keys, newest first.
	KeyList(ctx context.Context, tenantID string, p *ListParams) ([]*Key, error)
	// KeyDelete deletes the key id of a tenant (tenantID "": an admin key)
	// and the idempotency records it made: ErrNotFound when the tenant has
	// no such key. Deleting the last admin key is ErrConflict, also when
	// several deletes race for the last ones, on one node or many: one of
	// them is refused.
	KeyDelete(ctx context.Context, tenantID, id string) error
	// KeyTouch sets the key's LastUsedAt to at, unless it is already set
	// to a time after ifBefore: several nodes touching one key at once
	// write it once. A missing key is not an error.
	KeyTouch(ctx context.Context, id string, at, ifBefore time.Time) error

	FormatPut(ctx context.Context, f *Format) (created bool, err error)
	FormatGet(ctx context.Context, name string) (*Format, error)
	FormatList(ctx context.Context) ([]*Format, error)
	// FormatDelete returns ErrConflict when an endpoint uses the format.
	FormatDelete(ctx context.Context, name string) error

	// EventTypePut creates or replaces every field of a catalog entry,
	// keeping its creation time.
	EventTypePut(ctx context.Context, et *EventType) (*EventType, error)
	// EventTypeUpdate changes only the fields p sets, in one statement, of
	// the named entry; when it is absent it creates it (fields p leaves
	// unset at their zero values) if p.Create, and gives ErrNotFound if not.
	EventTypeUpdate(ctx context.Context, p *EventTypeUpdateParams) (et *EventType, created bool, err error)
	EventTypeGet(ctx context.Context, name string) (*EventType, error)
	EventTypeList(ctx context.Context, p *ListParams) ([]*EventType, error)
	// EventTypeDelete removes a catalog entry; ErrNotFound when it is
	// absent. Endpoint filters and stored events name types by text, so
	// nothing else changes.
	EventTypeDelete(ctx context.Context, name string) error

	// Endpoint methods see live endpoints only: a deleted one is
	// ErrNotFound to EndpointGet, EndpointUpdate and EndpointDelete, in no
	// list, matched by no event and claimed for by no worker, while its
	// deliveries and their attempts stay readable.
	EndpointCreate(ctx context.Context, e *Endpoint) (*Endpoint, error)
	// EndpointCreateCapped is EndpointCreate for a tenant that may have at
	// most max endpoints, enabled or not: when it has max already, nothing
	// is stored and the error is ErrEndpointLimit. Creates for one tenant
	// take their turn, on every node, so concurrent ones never leave it
	// with more than max. max <= 0 means no limit.
	EndpointCreateCapped(ctx context.Context, e *Endpoint, max int) (*Endpoint, error)
	EndpointGet(ctx context.Context, tenantID, id string) (*Endpoint, error)
	EndpointList(ctx context.Context, tenantID string, p *ListParams) ([]*Endpoint, error)
	// EndpointUpdate writes every mutable field of e (looked up by TenantID, ID).
	// Disabling it makes its DisabledReason DisabledManual; enabling it
	// clears the reason and the failing streak.
	EndpointUpdate(ctx context.Context, e *Endpoint) (*Endpoint, error)
	// EndpointDelete deletes the endpoint, softly: it is gone for every
	// Endpoint method, its secrets and headers are erased, and its
	// deliveries that were waiting (pending, retrying, or delivering under
	// an expired lease) fail with the error EndpointDeletedError. Its
	// deliveries and attempts stay, with Delivery.EndpointDeleted set, until
	// retention deletes the last of them (EndpointPurgeDeleted) or the
	// tenant is deleted.
	EndpointDelete(ctx context.Context, tenantID, id string) error
	// EndpointPurgeDeleted removes for good up to limit deleted endpoints
	// (EndpointDelete) of which no delivery remains, of any tenant, and
	// returns how many: retention's last step, once the deliveries that
	// kept them readable are gone.
	EndpointPurgeDeleted(ctx context.Context, limit int) (int, error)
	// EndpointListDisabled lists live endpoints of every tenant that are
	// not enabled, in id order, at most limit (Stats counts them all).
	EndpointListDisabled(ctx context.Context, limit int) ([]*Endpoint, error)
	// EndpointListByFormat lists every endpoint, of any tenant, that uses
	// the named format, oldest first (to check them when the format changes).
	EndpointListByFormat(ctx context.Context, format string) ([]*Endpoint, error)
	// EndpointSecretsCheck reports how the endpoints' secrets are kept: in
	// clear or sealed under which keys (Options.Secrets), and opens one
	// endpoint's of each key. A key the keyring lacks, or a value that does
	// not open, is an error naming the key: this store could not sign for
	// those endpoints.
	EndpointSecretsCheck(ctx context.Context) (*SecretsReport, error)
	// EndpointSecretsReseal seals again, under the keyring's current key,
	// the secrets of every endpoint that are in clear or under another key,
	// in batches of its own transactions, and returns how many endpoints
	// it changed. It needs a keyring that opens every value it finds.
	EndpointSecretsReseal(ctx context.Context) (int, error)

	// EventCreate stores the event and one pending delivery for every enabled
	// endpoint of the tenant whose filter matches the type, and, unless
	// the event's Source is SourceFailure, a failed delivery with no
	// attempts and LastError ErrorEndpointDisabled for every disabled one
	// (or, when
	// p.EndpointIDs is set, for exactly those endpoints, enabled or not), in
	// one transaction, and wakes the workers once it commits. When the tenant
	// already has an event with that id it returns the stored one, with its
	// deliveries and Created false, if the stored Hash matches, and
	// ErrConflict if it does not.
	EventCreate(ctx context.Context, p *EventCreateParams) (*EventCreateResult, error)
	// EventCreateMany is EventCreate of several events in one transaction,
	// for group commit: out[i] is what EventCreate would have returned for
	// ps[i] (its result, or its own ErrConflict or ErrNotFound, which never
	// undoes its neighbours), and the workers are woken once. An event
	// given twice is stored once, the second answered as a re-post. With
	// h set, up to h.Limit of the new deliveries are created already
	// leased to h.Owner (see HandOff) and returned as handed, ready to
	// send. A non-nil error is the transaction's: then nothing was stored.
	EventCreateMany(ctx context.Context, ps []*EventCreateParams, h *HandOff) (out []EventCreateOutcome, handed []*Claimed, err error)
	EventGet(ctx context.Context, tenantID, id string) (*Event, error)
	EventList(ctx context.Context, tenantID string, p *EventListParams) ([]*Event, error)

	DeliveryGet(ctx context.Context, tenantID, id string) (*Delivery, error)
	DeliveryList(ctx context.Context, tenantID string, p *DeliveryListParams) ([]*Delivery, error)
	// DeliveryAttempts lists a delivery's attempts, oldest first.
	DeliveryAttempts(ctx context.Context, deliveryID string) ([]*Attempt, error)
	// DeliveryAttemptsLatest lists a delivery's latest attempts, oldest
	// first, as many as fit in maxBytes of their Size (the latest always;
	// 0 means DefaultPageBytes): retries can give a delivery any number
	// of attempts, each with a response body of up to 4 KiB. It stops
	// reading at the first that does not fit.
	DeliveryAttemptsLatest(ctx context.Context, deliveryID string, maxBytes int) ([]*Attempt, error)

	// DeliveryClaimDue leases up to p.Limit due deliveries (pending, retrying,
	// or delivering with an expired lease, next_attempt_at <= p.Now, whose
	// endpoint is enabled; oldest due first) and marks
	// them delivering, leased to p.Owner until p.Now+p.Lease. No endpoint ends
	// up with more unexpired leases, counting the ones it had before, than
	// its MaxInFlight or p.PerEndpoint, whichever is lower (p.PerEndpoint
	// when MaxInFlight is 0); a backlog at one endpoint never hides due
	// work at others.
	// Concurrent callers (other nodes) never get the same delivery.
	DeliveryClaimDue(ctx context.Context, p *DeliveryClaimParams) ([]*Claimed, error)
	// DeliveryRecordAttempt stores one attempt and moves the delivery to
	// p.Status (delivered, retrying with p.NextAttemptAt, or failed), if and
	// only if the lease is still p.Owner's; otherwise ErrLeaseLost. When
	// p.Body is set, the delivery has no stored body yet and another attempt
	// may follow (p.Status is not delivered), it is stored so every later
	// attempt sends the same bytes.
	DeliveryRecordAttempt(ctx context.Context, p *AttemptRecordParams) (*Attempt, error)
	// DeliveryRecordAttempts records a batch of attempts in one transaction,
	// each exactly as DeliveryRecordAttempt would and each fenced by its own
	// lease: results[i] is ps[i]'s, and a row refused (ErrLeaseLost,
	// ErrNotFound, bad params) is not recorded and fails no other. The error
	// is the batch's own (the database failed): then nothing was recorded.
	// In the same transaction it updates the health of every endpoint of
	// the batch (one statement, and one for the hourly counts), and
	// disables an enabled endpoint that answered 410 Gone, or whose
	// failing streak has lasted longer than its attempt's DisableAfter:
	// the result of the attempt that did so says so (Disabled).
	DeliveryRecordAttempts(ctx context.Context, ps []*AttemptRecordParams) ([]AttemptRecordResult, error)
	// EndpointTakeTurn takes the endpoint's next turn under its rate limit,
	// as claims give them out, for an attempt made outside the claims (a
	// test send): the time it may be sent, zero when the endpoint has no
	// rate limit.
	EndpointTakeTurn(ctx context.Context, endpointID string, now time.Time) (time.Time, error)
	// DeliveryRelease hands a leased delivery back unattempted (shutdown),
	// due again at p.NextAttemptAt, if the lease is still p.Owner's.
	DeliveryRelease(ctx context.Context, id, owner string, next time.Time) error
	// DeliveryExtendLeases pushes the leases this owner still holds on ids
	// out to until (a heartbeat for attempts in flight), and returns how many
	// it still held. Short leases kept alive this way let a crashed node's
	// deliveries be taken again quickly, whatever the format's timeout.
	DeliveryExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error)
	// DeliveryRetry starts a new attempt series for a delivered or failed
	// delivery: status pending, series attempts 0, due now. A pending or
	// retrying delivery keeps its status and series and is due now (never
	// later than it was). A delivering one (an attempt in flight) gives
	// ErrConflict. It wakes the workers when it commits.
	DeliveryRetry(ctx context.Context, tenantID, id string, now time.Time) (*Delivery, error)
	// DeliveryRetryNow makes every retrying delivery of the endpoint that
	// is due after p.Now due at p.Now, keeping its series, and returns how
	// many it moved. It works in transactions of at most p.Batch rows,
	// each waking the workers, so a backlog of any size never holds one
	// long transaction; each delivery is moved at most once. ErrNotFound
	// when the tenant has no such endpoint.
	DeliveryRetryNow(ctx context.Context, p *DeliveryRetryNowParams) (int, error)
	// DeliveryNextDue returns when the earliest waiting delivery is due (a
	// pending/retrying next_attempt_at or a delivering lease expiry), or
	// ErrNotFound when nothing waits.
	DeliveryNextDue(ctx context.Context) (time.Time, error)
	// Stats reads what the gauges of /metrics show, from indexes and
	// never by reading every delivery: see Stats.
	Stats(ctx context.Context) (*Stats, error)
	// DeliveryFinishedCounts counts, for each window of ws, the deliveries
	// of every tenant that became delivered and that became failed in it
	// (at or after Since, before Until): out[i] is ws[i]'s. A finished
	// delivery is counted at its last change, the moment it finished; one
	// retried since counts again when it finishes again, and not before.
	// Each count is a range of an index of finished deliveries, so the
	// cost is the deliveries that finished in the windows, never the
	// table. At most MaxFinishedWindows windows.
	DeliveryFinishedCounts(ctx context.Context, ws []Window) ([]FinishedCount, error)
	// DeliveryLatencies returns, for the deliveries of every tenant
	// delivered at or after since, the time from their event's creation
	// to their delivery, the latest delivered first, at most limit of
	// them (read on the same index, newest first, so the cost is limit).
	DeliveryLatencies(ctx context.Context, since time.Time, limit int) ([]time.Duration, error)
	// Listen returns a channel that receives a value (coalesced, never
	// blocking the sender) whenever new due work is committed by any node:
	// PostgreSQL LISTEN/NOTIFY, an in-process signal on SQLite. The channel
	// is closed when ctx ends.
	Listen(ctx context.Context) (<-chan struct{}, error)

	// ReplayCreate stores a new replay job, running at the start of its
	// window (Position at Since), leased to r.LeaseOwner until
	// r.LeaseExpiresAt when they are set (the node that asked runs its
	// first batch at once); ErrNotFound when the tenant has no such
	// endpoint.
	ReplayCreate(ctx context.Context, r *Replay) (*Replay, error)
	ReplayGet(ctx context.Context, tenantID, id string) (*Replay, error)
	// ReplayList pages through the tenant's replays, newest first, those
	// of one endpoint when p.EndpointID is set.
	ReplayList(ctx context.Context, tenantID string, p *ReplayListParams) ([]*Replay, error)
	// ReplayClaim leases the oldest running replay that nobody holds (no
	// lease, or one expired at or before now), or that owner holds
	// already, to owner until until; ErrNotFound when there is none.
	// Concurrent callers (other nodes) never get the same replay.
	ReplayClaim(ctx context.Context, owner string, now, until time.Time) (*Replay, error)
	// ReplayStep runs one batch of a running replay leased to p.Owner, in
	// one short transaction: it looks at the next p.Limit deliveries of
	// the endpoint in the replay's window and delivery status after its
	// Position, oldest first (by creation time, then id), queues again
	// those of them that match its event type filter and still have that
	// status (so a delivery that has succeeded since is never sent
	// again), moves Position to the last one looked at, renews the lease
	// to p.LeaseUntil, and wakes the workers when it queued any. A batch
	// of fewer than p.Limit ends the replay: done. An endpoint that is
	// gone fails it. ErrLeaseLost when the replay is not p.Owner's, or no
	// longer running; ErrNotFound when there is no such replay.
	ReplayStep(ctx context.Context, p *ReplayStepParams) (*Replay, error)
	// ReplayDeleteFinished deletes up to limit replays, of any tenant,
	// that finished (done or failed) before before, and returns how many.
	ReplayDeleteFinished(ctx context.Context, before time.Time, limit int) (int, error)

	// EventDeleteFinished is one batch of retention: it walks the events
	// created before p.Before tenant by tenant (in id order), each
	// tenant's newest first, and of the next p.Limit after p.After it
	// deletes, with their deliveries and attempts, those whose deliveries
	// are all delivered or failed (or that have none), in one short
	// transaction. Result.Next is where the next batch starts;
	// Result.Done says there is no next batch.
	EventDeleteFinished(ctx context.Context, p *EventDeleteParams) (*EventDeleteResult, error)

	// LeaseTake takes the named lease for p.Owner until p.Until, when it
	// is free, expired at or before p.Now, or p.Owner's already (a
	// renewal), and reports whether p.Owner holds it: the way one node at
	// a time runs a background job.
	LeaseTake(ctx context.Context, p *LeaseParams) (bool, error)
	// LeaseRelease gives up the named lease if owner holds it; releasing
	// a lease one does not hold is not an error.
	LeaseRelease(ctx context.Context, name, owner string) error

	// IdempotencyGet returns the stored answer for (scope, key) or ErrNotFound.
	// A record with Status 0 is a reservation: the request is in progress.
	IdempotencyGet(ctx context.Context, scope, key string) (*IdempotencyRecord, error)
	// IdempotencyPut stores an answer; ErrConflict when (scope, key) exists.
	// With Status 0 it reserves the key for a request about to run, so that
	// of two requests racing for one key exactly one gets to run it. With
	// TenantID set the record is that tenant's, and ErrNotFound when there
	// is no such tenant.
	IdempotencyPut(ctx context.Context, r *IdempotencyRecord) error
	// IdempotencyComplete fills in the answer (Status, Body) of the
	// reservation for (r.Scope, r.Key), and its tenant when r.TenantID is
	// set (the request created it): ErrNotFound when there is no
	// reservation or no such tenant, ErrConflict when the record already
	// holds an answer. r.Status must not be 0.
	IdempotencyComplete(ctx context.Context, r *IdempotencyRecord) error
	// IdempotencyRelease deletes the reservation for (scope, key) if it is
	// still in progress, so the client may retry with the same key after an
	// error. A completed record is kept; deleting nothing is not an error.
	IdempotencyRelease(ctx context.Context, scope, key string) error
	// IdempotencyReleaseAbandoned is IdempotencyRelease of a reservation
	// created before before only: one left behind by a crash. Of several
	// callers that found the same abandoned reservation, none can delete the
	// fresh reservation another of them made in its place.
	IdempotencyReleaseAbandoned(ctx context.Context, scope, key string, before time.Time) error
	// IdempotencyReleaseExpired deletes the record for (scope, key),
	// answered or not, if it was made before before: it has expired, and
	// the key may be used again. As with IdempotencyReleaseAbandoned, a
	// fresh record made in its place is never deleted.
	IdempotencyReleaseExpired(ctx context.Context, scope, key string, before time.Time) error
	// IdempotencyDeleteExpired deletes up to limit records, of any scope,
	// answered or not, made before before, and returns how many it deleted.
	IdempotencyDeleteExpired(ctx context.Context, before time.Time, limit int) (int, error)

	// NodePut stores n, replacing the row of its ID (a node refreshing its
	// SeenAt), and deletes every other node not seen since forgetBefore.
	NodePut(ctx context.Context, n *Node, forgetBefore time.Time) error
	// NodeList lists the nodes seen at or after since, the earliest
	// started first.
	NodeList(ctx context.Context, since time.Time) ([]*Node, error)
	// NodeDelete deletes a node's row; ErrNotFound if there is none.
	NodeDelete(ctx context.Context, id string) error
}

// Node is a running herald serve, as it registers itself.
type Node struct {
	ID   string
	Name string // for people: the host and the process id
	// Settings is what the node decides about destinations, written out
	// ("allow_private_destinations=false"), and SettingsHash its hash:
	// nodes sharing a database should have the same.
	Settings     string
	SettingsHash string
	StartedAt    time.Time
	SeenAt       time.Time
}

// Tenant is a customer that receives webhooks.
type Tenant struct {
	ID       string
	Name     string
	Metadata json.RawMessage // a JSON object; nil means {}
	// PortalOrigins are the origins that may frame the tenant's customer
	// portal (CSP frame-ancestors); nil or empty means none.
	PortalOrigins []string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Key is an API key, stored only as the SHA-256 hex of the full key.
type Key struct {
	ID        string // key_...
	TenantID  string // "" for an admin key
	Name      string
	Hash      string
	CreatedAt time.Time
	// LastUsedAt is about when the key last authenticated a request: it
	// is written at most once a minute (apikey), nil before the first.
	LastUsedAt *time.Time
}

// Stats is the state of the whole deployment's queue, for the gauges of
// /metrics.
type Stats struct {
	// Deliveries counts the unfinished deliveries by status: pending,
	// delivering and retrying, each present, 0 when there are none.
	// Delivered and failed ones, which only grow, are not counted.
	Deliveries map[string]int
	// NextDue is when the earliest claimable delivery is or was due, as
	// DeliveryNextDue says; nil when none waits.
	NextDue *time.Time
	// EndpointsDisabled counts the endpoints that are not enabled.
	EndpointsDisabled int
}

// Window is a span of time: at or after Since, before Until.
type Window struct {
	Since, Until time.Time
}

// FinishedCount is how many deliveries became delivered and failed in a
// Window (DeliveryFinishedCounts).
type FinishedCount struct {
	Delivered, Failed int
}

// MaxFinishedWindows bounds the windows of one DeliveryFinishedCounts:
// each is two index range counts in one statement.
const MaxFinishedWindows = 500

// Format is a stored wire format definition; Definition is the JSON the user
// PUT (already validated by the format package).
type Format struct {
	Name       string
	Definition json.RawMessage
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// EventType is an entry in the event catalog.
type EventType struct {
	Name        string
	Description string
	Schema      json.RawMessage // nil when the type has no schema
	Archived    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Endpoint is where one tenant's webhooks go.
type Endpoint struct {
	ID          string // ep_...
	TenantID    string
	URL         string
	Description string
	Events      []string // filters: "*", "a.*", exact names
	Format      string   // "" = the server's default format
	Secret      string
	// PreviousSecrets are the secrets rotations replaced, newest first,
	// each signing too until its own grace period ends (see
	// SigningSecrets). The store keeps what it is given, expired ones
	// included; the endpoint service drops those on rotation.
	PreviousSecrets []PreviousSecret
	Enabled         bool
	Headers         map[string]string
	RateLimit       int // attempts per second, 0 = no limit
	// MaxInFlight caps this endpoint's attempts in flight across all
	// nodes; 0 means the server's cap, which also bounds it.
	MaxInFlight int
	Metadata    json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// DisabledReason is why the endpoint is not enabled: DisabledGone,
	// DisabledFailing or DisabledManual; "" while it is enabled.
	// EndpointCreate and EndpointUpdate set it (and DisabledAt) from
	// Enabled themselves: a caller's value is not written.
	DisabledReason string
	DisabledAt     *time.Time
	// Health is what the recorded attempts say of the endpoint; written
	// only by DeliveryRecordAttempts (and cleared when it is enabled again).
	Health EndpointHealth
}

// Why an endpoint was disabled (Endpoint.DisabledReason).
const (
	DisabledGone    = "gone"    // it answered 410 Gone
	DisabledFailing = "failing" // every attempt failed for longer than the disable-after window
	DisabledManual  = "manual"  // a user set enabled to false
)

// ErrorEndpointDisabled is the error of a delivery made failed, with no
// attempt, because its endpoint was disabled when its event came.
const ErrorEndpointDisabled = "endpoint_disabled"

// EndpointHealth is an endpoint's record of attempts, kept in the database
// so every node agrees.
type EndpointHealth struct {
	// ConsecutiveFailures counts the failed attempts since the last one
	// that succeeded; FailingSince is when the first of them started (nil
	// when the last attempt succeeded or none was made).
	ConsecutiveFailures int
	FailingSince        *time.Time
	// LastAttemptAt is when the latest attempt started, nil before the
	// first; LastResponseCode its status, 0 when it got no response.
	LastAttemptAt    *time.Time
	LastResponseCode int
	// Succeeded24h and Failed24h count the attempts of the last 24 hours,
	// by the hour they started in. Only EndpointGet and EndpointList read
	// them; other reads of an endpoint leave them 0.
	Succeeded24h, Failed24h int
}

// EndpointDisabled is an endpoint that DeliveryRecordAttempts disabled.
type EndpointDisabled struct {
	Endpoint *Endpoint // as it is now, disabled
	// Reason is DisabledGone or DisabledFailing.
	Reason string
	At     time.Time
	// ResponseCode is the status of the attempt that disabled it.
	ResponseCode int
	// TraceID is the trace of that attempt's event.
	TraceID string
}

// PreviousSecret is a secret a rotation replaced, kept for signing until
// its grace period ends.
type PreviousSecret struct {
	Secret string
	// ReplacedAt is when the rotation replaced it; zero when unknown (a
	// secret replaced before Herald kept the time).
	ReplacedAt time.Time
	// ExpiresAt is when it stops signing.
	ExpiresAt time.Time
}

// Event is what a producer posted (or Herald raised: a test or failure event).
type Event struct {
	TenantID  string
	ID        string // the producer's id, or evt_...
	Type      string
	Data      json.RawMessage // canonical compact JSON, numbers as written
	Hash      string          // of type and data, for idempotent re-posts
	TraceID   string          // 32 hex characters
	Source    string          // SourceAPI, SourceTest, SourceFailure
	CreatedAt time.Time
}

// Delivery is one event at one endpoint.
type Delivery struct {
	ID             string // dlv_...
	TenantID       string
	EventID        string
	EventType      string
	EndpointID     string
	Status         string
	Attempts       int // attempts made in all, across series
	SeriesAttempts int // attempts made in the current series (for the schedule)
	NextAttemptAt  *time.Time
	LastStatusCode int // 0 when the last attempt got no response
	LastError      string
	// EndpointDeleted says that its endpoint was deleted: the delivery and
	// its attempts are kept, readable, but nothing more is sent. Set by
	// DeliveryGet and DeliveryList only.
	EndpointDeleted bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Replay statuses.
const (
	ReplayRunning = "running"
	ReplayDone    = "done"
	ReplayFailed  = "failed"
)

// Replay is a job that queues an endpoint's finished deliveries again,
// batch by batch, so that a window of hundreds of thousands never holds a
// lock for long and a restart resumes where it stopped.
type Replay struct {
	ID         string // rpl_...
	TenantID   string
	EndpointID string
	Status     string // ReplayRunning, ReplayDone or ReplayFailed
	// Since and Until are the window: deliveries created at or after
	// Since and before Until.
	Since time.Time
	Until time.Time
	// DeliveryStatus is the status of the deliveries replayed:
	// StatusFailed or StatusDelivered.
	DeliveryStatus string
	// EventType is the filter on the deliveries' event type: an exact
	// name, "a.*" or "*"; "" means every type.
	EventType string
	Queued    int // deliveries queued again so far
	Scanned   int // deliveries of the status in the window looked at so far
	// PositionAt and PositionID are the last delivery looked at (its
	// creation time and id): the next batch starts after it. Before the
	// first batch they are Since and "".
	PositionAt time.Time
	PositionID string
	// Error says why a failed replay failed.
	Error          string
	LeaseOwner     string // "" when nobody holds the replay
	LeaseExpiresAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time // when it became done or failed
}

// ReplayListParams filters ReplayList.
type ReplayListParams struct {
	ListParams
	EndpointID string
}

// ReplayStepParams is one batch of a replay.
type ReplayStepParams struct {
	ID         string
	Owner      string    // who holds the replay's lease
	Now        time.Time // the time of the queued deliveries and of the record
	LeaseUntil time.Time // the lease's new expiry
	Limit      int       // deliveries looked at in this batch
}

// EventDeleteParams is one batch of retention.
type EventDeleteParams struct {
	// Before is the cutoff: only events created before it go.
	Before time.Time
	// After is where the batch starts: the zero value for the first.
	After EventPosition
	// Limit is how many events the batch looks at.
	Limit int
}

// EventPosition is where retention's walk is: in tenant TenantID (""
// before the first), after the event made at CreatedAt with id ID (zero:
// at the cutoff), going back in time. With TenantDone every event of the
// tenant before the cutoff has been looked at, and the walk goes on with
// the next tenant.
type EventPosition struct {
	TenantID   string
	CreatedAt  time.Time
	ID         string
	TenantDone bool
}

// EventDeleteResult is what one batch of retention did.
type EventDeleteResult struct {
	Scanned    int // events looked at
	Events     int // deleted
	Deliveries int // deleted with them
	Attempts   int // deleted with those
	// Next is where the next batch starts.
	Next EventPosition
	// Done is true when the walk has passed the last tenant: the batch
	// looked at nothing, and there is no next one.
	Done bool
}

// LeaseParams asks for a named lease.
type LeaseParams struct {
	Name  string
	Owner string
	Now   time.Time
	Until time.Time
}

// Claimed is a delivery leased to a worker with what it needs to send it.
type Claimed struct {
	Delivery *Delivery
	Event    *Event
	Endpoint *Endpoint
	// Body is the bytes an earlier attempt sent, kept where that attempt
	// did not deliver (AttemptRecordParams.Body); nil before the first
	// attempt and after one that delivered.
	Body []byte
	// LeaseUntil is when the lease expires.
	LeaseUntil time.Time
	// NotBefore is the delivery's turn under its endpoint's rate limit:
	// its attempt is not sent before it. Zero: at once. Turns are given out
	// by the claims and hand-offs, which take turns with each other, so an
	// endpoint's rate limit holds for the whole deployment.
	NotBefore time.Time
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	ID           string // att_...
	DeliveryID   string
	Number       int // 1, 2, ... across all series
	StartedAt    time.Time
	DurationMS   int64
	ResponseCode int    // 0 when there was no response
	ResponseBody string // at most 4 KiB
	Error        string
}

// IdempotencyRecord is the stored answer to a POST with an Idempotency-Key,
// or, while Status is 0, the reservation of the key by the request that is
// running.
type IdempotencyRecord struct {
	Scope string // who asked: a key id
	// TenantID is the tenant the request was for (the path's, or the one it
	// created), "" for none: deleting the tenant deletes the record.
	TenantID    string
	Key         string
	RequestHash string
	Status      int // the answer's HTTP status; 0 while in progress
	Body        []byte
	CreatedAt   time.Time // when the key was reserved (or the answer stored)
}

// InProgress reports whether r is a reservation: its request has not
// answered yet.
func (r *IdempotencyRecord) InProgress() bool { return r.Status == 0 }

// ListParams pages through a list, newest first (creation time, then id or
// name, descending). Cursor is opaque: "" for the first page, else the cursor
// Page returned for the previous one; one the server did not make gives a
// *herald.ValidationError at "query.cursor". A page holds up to
// PageLimit() rows and up to PageBytes() of them (see PageFill). Every list
// method taking ListParams returns the page and at most one row more, the
// first that did not fit, and stops reading there, so a page of large rows
// is never held whole: the extra row only says that another page exists,
// so callers pass the rows through Page, which trims them and makes the
// next cursor.
type ListParams struct {
	Limit  int
	Cursor string
	// MaxBytes is the page's byte budget, the sum of its rows' Size; 0
	// means DefaultPageBytes.
	MaxBytes int
}

// EventListParams filters EventList.
type EventListParams struct {
	ListParams
	Type string
	// Since and Until bound the creation time: at or after Since, before
	// Until. A zero time is no bound.
	Since, Until time.Time
}

// DeliveryListParams filters DeliveryList. Empty strings and zero times
// filter nothing.
type DeliveryListParams struct {
	ListParams
	Status     string
	EndpointID string
	EventID    string
	EventType  string
	// Since and Until bound the creation time: at or after Since, before
	// Until.
	Since, Until time.Time
}

// EventTypeUpdateParams is what EventTypeUpdate sets: a nil field keeps
// what is stored.
type EventTypeUpdateParams struct {
	Name        string
	Description *string
	// Schema, when set, replaces the schema; an empty one removes it.
	Schema   *json.RawMessage
	Archived *bool
	// Now is the change's time (and the creation's); zero means the
	// store's clock.
	Now time.Time
	// Create makes an absent entry (a PUT) rather than ErrNotFound (a
	// PATCH).
	Create bool
}

// DeliveryRetryNowParams says whose retrying deliveries DeliveryRetryNow
// brings forward.
type DeliveryRetryNowParams struct {
	TenantID   string
	EndpointID string
	Now        time.Time
	// Batch is the most rows one transaction moves; 0 means
	// DefaultRetryNowBatch.
	Batch int
}

// DefaultRetryNowBatch is DeliveryRetryNowParams.Batch when it is 0.
const DefaultRetryNowBatch = 1000

// EventCreateParams is an event to store with its deliveries.
type EventCreateParams struct {
	Event *Event
	// KeyID, when set, is the API key the event is posted with, which the
	// transaction storing it finds still there (and holds until it
	// commits), or the event is refused with ErrUnauthorized: a node may
	// have taken the key from memory, and a key deleted through any node
	// is refused at once.
	KeyID string
	// EndpointIDs, when not nil, sends the event to exactly these endpoints
	// of the tenant instead of matching filters (test sends).
	EndpointIDs []string
	Now         time.Time
	// LeaseOwner, when set, creates the deliveries already leased to this
	// owner until LeaseUntil (status delivering), so the caller can send
	// them itself (a synchronous test send) without a worker taking them.
	LeaseOwner string
	LeaseUntil time.Time
	// SkipFailing leaves out, of the endpoints the filters match, those
	// that are failing (see Failing): failure notices are not sent to an
	// endpoint that would only fail them in its turn.
	SkipFailing bool
}

// HandOff asks EventCreateMany to lease new deliveries to the node that
// ingests them, so they go straight to its dispatcher instead of waiting
// for a claim: at most Limit of them (its free capacity), oldest event
// first, and no more for an endpoint than the room its cap leaves
// (PerEndpoint, or the endpoint's MaxInFlight when lower, less the
// unexpired leases it holds), nor for a tenant than PerTenant leaves,
// counted as DeliveryClaimDue counts them. The rest are pending for the
// ordinary claim. A node that dies with them loses nothing: they are
// claimed again when the lease runs out.
type HandOff struct {
	Owner       string
	Until       time.Time // the lease's expiry
	Limit       int
	PerEndpoint int
	PerTenant   int // 0: no cap per tenant
	// Settling, OwnFactor and Eager are as DeliveryClaimParams'.
	Settling  []string
	OwnFactor int
	Eager     []string
	// Active is Owner's leases by endpoint whose attempts have not ended
	// (waiting in its dispatcher or being sent), as Owner counts them: no
	// more than the leases the hand-off would count. An endpoint with as
	// many as LeaseCap gives at most (its cap times OwnFactor) has no
	// room, and a hand-off whose every delivery is for such an endpoint
	// leases none and leaves them all Held without taking the claims'
	// turn: under load, most ingest batches of a busy endpoint. nil: none
	// known.
	Active map[string]int
	// Held is set by EventCreateMany: how many new deliveries it left
	// pending only because their endpoint's cap was full of Owner's own
	// leases. No other node is woken for them (none could take them); the
	// owner claims them as its attempts to the endpoint end.
	Held int
}

// EventCreateOutcome is what EventCreateMany did with one event: a result,
// or the error that event alone was refused with.
type EventCreateOutcome struct {
	Result *EventCreateResult
	Err    error
}

// EventCreateResult is what EventCreate stored, or found stored.
type EventCreateResult struct {
	Event      *Event
	Created    bool
	Deliveries []*Delivery
}

// DeliveryClaimParams says how much to claim and for whom.
type DeliveryClaimParams struct {
	Owner       string // a unique id for the claiming engine
	Now         time.Time
	Lease       time.Duration
	Limit       int
	PerEndpoint int
	// PerTenant caps the unexpired leases of one tenant's deliveries,
	// across all nodes: the fair share that keeps one tenant's backlog
	// from taking every claim. 0: no cap per tenant.
	PerTenant int
	// Settling names deliveries leased to Owner whose attempt has ended
	// and waits for its record: their leases do not count against the
	// caps, which bound the attempts being sent, so an endpoint's next
	// attempts need not wait for its last ones' batch to commit. A named
	// delivery no longer leased to Owner (recorded meanwhile) is not
	// counted either way; other nodes count this node's as in flight.
	Settling []string
	// OwnFactor lets Owner hold up to this many times the cap of an
	// endpoint named in Eager in leases of it while no other owner holds
	// any and the endpoint's tenant holds fewer than half its PerTenant
	// leases: Owner sends no
	// more than the cap at once (its dispatcher keeps the rest waiting),
	// and every other claimer sees the cap full, so the cap on attempts
	// sent holds across nodes, while the endpoint's next deliveries are
	// already leased when an attempt ends. The tenant's half keeps an
	// endpoint whose attempts hang from filling its tenant's share with
	// waiting leases. 0 or 1: the cap alone.
	OwnFactor int
	// Eager names the endpoints OwnFactor applies to: those whose
	// attempts from Owner have just been delivered quickly. Leases
	// waiting behind an endpoint that hangs or fails would only hold its
	// tenant's share from its other endpoints.
	Eager []string
	// Probe says the claim will likely find nothing (the last one found
	// nothing): it first reads, without taking the claims' turn (which
	// ingest's hand-offs wait for on PostgreSQL, and the single writer
	// on SQLite), whether any endpoint with due work has room, and claims
	// only if one has. A claim that would find room is made as without
	// it, one read later.
	Probe bool
}

// LeaseCap is how many leases of an endpoint whose cap is cap an owner
// may hold (DeliveryClaimParams.OwnFactor): cap, or cap times factor while
// the endpoint is eager (named in DeliveryClaimParams.Eager), no other
// owner holds any and its tenant holds fewer than half its share of
// leases (share 0: no share, never half full). The claims' SQL spells the
// same rule (sqlstore.LeaseFactor).
func LeaseCap(cap, factor int, eager, othersHold bool, tenantLeases, share int) int {
	if !eager || othersHold || factor <= 1 || (share > 0 && tenantLeases >= share/2) {
		return cap
	}
	return cap * factor
}

// TenantCap is a PerTenant setting as a number to compare with: n, or no
// limit at all when n is 0.
func TenantCap(n int) int {
	if n <= 0 {
		return math.MaxInt32
	}
	return n
}

// AttemptRecordParams is the outcome of one attempt.
type AttemptRecordParams struct {
	DeliveryID    string
	Owner         string
	Attempt       *Attempt
	Status        string     // StatusDelivered, StatusRetrying or StatusFailed
	NextAttemptAt *time.Time // with StatusRetrying
	Body          []byte     // the bytes sent, stored on the first attempt unless it delivered
	Now           time.Time
	// DisableAfter disables the endpoint, in the transaction recording
	// this attempt, when it fails and its failing streak began longer ago
	// than this; 0 never does. A 410 Gone answer disables it whatever
	// this is.
	DisableAfter time.Duration
	// TraceID is the trace of the attempt's event, for the event an
	// endpoint disabled by this attempt raises.
	TraceID string
}

// AttemptRecordResult is what became of one attempt of a batch: the attempt
// as stored, or why it was not.
type AttemptRecordResult struct {
	Attempt *Attempt
	Err     error
	// Disabled is set on the attempt that disabled its endpoint, once,
	// on whichever node recorded it.
	Disabled *EndpointDisabled
}

// MatchEventType reports whether an endpoint with these filters receives an
// event of type typ: "*" matches every type, "a.*" every type under "a.",
// anything else only itself.
func MatchEventType(filters []string, typ string) bool {
	for _, f := range filters {
		switch {
		case f == "*" || f == typ:
			return true
		case strings.HasSuffix(f, ".*") && strings.HasPrefix(typ, f[:len(f)-1]):
			return true
		}
	}
	return false
}

// EventHash is the fingerprint of an event's content that decides whether a
// re-post with the same id is the same event: its type and canonical data.
func EventHash(typ string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{'\n'})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// EndpointDeletedError is the last_error of a delivery that was still
// waiting when its endpoint was deleted, and so failed unsent.
const EndpointDeletedError = "endpoint_deleted"

// SecretsReport is how the live endpoints' secrets are kept.
type SecretsReport struct {
	// Clear counts the endpoints whose secrets are stored in clear.
	Clear int
	// Sealed counts the endpoints whose secrets are sealed, by key id.
	Sealed map[string]int
}

// Option configures a Store when a driver opens it.
type Option func(*Options)

// Options is what Options set; drivers read it with NewOptions.
type Options struct {
	// Clock is the store's time for every moment a caller leaves zero
	// (a creation time, an attempt's record time). Default: the wall clock.
	Clock clock.Clock
	// Secrets seals endpoints' secrets as they are written and opens them
	// as they are read, so callers see them in clear; nil keeps them in
	// clear (and reads sealed ones as an error).
	Secrets *secretbox.Keyring
}

// WithClock makes the store read the time from c, so tests can run it on a
// clock.Fake shared with the engine.
func WithClock(c clock.Clock) Option { return func(o *Options) { o.Clock = c } }

// WithSecrets makes the store keep endpoints' secrets sealed under ring's
// current key (--encryption-key) and open those sealed under any of its
// keys.
func WithSecrets(ring *secretbox.Keyring) Option { return func(o *Options) { o.Secrets = ring } }

// NewOptions applies opts over the defaults.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, fn := range opts {
		fn(&o)
	}
	o.Clock = clock.Or(o.Clock)
	return o
}
