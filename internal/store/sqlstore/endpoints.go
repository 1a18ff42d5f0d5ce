package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// EndpointCols are the columns endpointRow scans; queries name the table ep.
const EndpointCols = `ep.id, ep.tenant_id, ep.url, ep.description, ep.events, ep.format,
	ep.secret, ep.previous_secrets, ep.secret_key_id, ep.enabled,
	ep.headers, ep.rate_limit, ep.metadata, ep.created_at, ep.updated_at, ep.max_in_flight,
	ep.disabled_reason, ep.disabled_at, ep.consecutive_failures, ep.failing_since,
	ep.last_attempt_at, ep.last_response_code`

// EndpointLive is the condition that the endpoints row ep is live, not
// deleted. It is the one definition: every query that shows, matches,
// claims for, sends to or counts endpoints (a tenant's cap on endpoints
// too) spells it with this, so a deleted endpoint is neither enabled nor
// matched anywhere while its deliveries stay readable.
const EndpointLive = `ep.deleted_at IS NULL`

// InFlightCap is store.Endpoint.InFlightCap in SQL, for the endpoints row
// ep under the server cap server (a parameter, "$5").
func InFlightCap(server string) string {
	return `(CASE WHEN ep.consecutive_failures >= ` + strconv.Itoa(store.OneAtATimeAfter) + ` THEN 1
		WHEN ep.max_in_flight > 0 AND ep.max_in_flight < ` + server + ` THEN ep.max_in_flight
		ELSE ` + server + ` END)`
}

// LeaseFactor is store.LeaseCap's factor in SQL, for the endpoints row ep
// of a claim: 1 unless ep is eager (eager, the driver's test of ep.id
// against the claim's Eager list), while another owner than the claim's
// holds a lease of it or its tenant holds half its share of leases, else
// the claim's factor. now, owner, share and factor name the claim's
// parameters ("$1"); tenantLeases is the tenant's leases, but for the
// claim's settling ones as the hand-off counts them: the n of the row of
// the claim's tenant_leases CTE (TenantLeases) that the query joins for
// ep's tenant ("tl.n"). A subquery of the CTE per endpoint was a scan of
// every tenant's row on PostgreSQL, 7 ms of a claim over 500 endpoints of
// 100 tenants (docs/design.md).
func LeaseFactor(now, owner, share, factor, eager, tenantLeases string) string {
	return `(CASE
		WHEN ` + factor + ` <= 1 THEN 1
		WHEN NOT (` + eager + `) THEN 1
		WHEN EXISTS (
			SELECT 1 FROM deliveries o
			WHERE o.endpoint_id = ep.id AND o.status = 'delivering' AND o.lease_expires_at > ` + now + ` AND o.lease_owner <> ` + owner + `
		) THEN 1
		WHEN ` + tenantLeases + ` >= ` + share + ` / 2 THEN 1
		ELSE ` + factor + ` END)`
}

// TenantLeases is the claims' tenant_leases CTE: for each tenant of the
// endpoints in due_eps, its unexpired leases but for the claim's settling
// ones (its settling CTE), as n. Counted once per claim and used by every
// endpoint of the tenant (LeaseFactor) and by the tenant's room: counted
// once per endpoint, the count was most of a claim's time with a backlog
// at ten endpoints of one tenant (docs/design.md). now names the claim's
// parameter.
func TenantLeases(now string) string {
	return `tenant_leases AS MATERIALIZED (
    SELECT t.tenant_id,
        (SELECT count(*) FROM deliveries l
         WHERE l.tenant_id = t.tenant_id AND l.status = 'delivering' AND l.lease_expires_at > ` + now + `)
        - (SELECT count(*) FROM settling s WHERE s.tenant_id = t.tenant_id) AS n
    FROM (SELECT DISTINCT tenant_id FROM due_eps) t
)`
}

// endpointRow scans EndpointCols, alone or as part of a wider row.
type endpointRow struct {
	e        store.Endpoint
	cols     store.EndpointJSON
	previous string // the previous_secrets column
	keyID    string // the secret_key_id column
}

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{&e.ID, &e.TenantID, &e.URL, &e.Description, &r.cols.Events, &e.Format,
		&e.Secret, &r.previous, &r.keyID, &e.Enabled,
		&r.cols.Headers, &e.RateLimit, &r.cols.Metadata, &e.CreatedAt, &e.UpdatedAt, &e.MaxInFlight,
		&e.DisabledReason, &e.DisabledAt, &e.Health.ConsecutiveFailures, &e.Health.FailingSince,
		&e.Health.LastAttemptAt, &e.Health.LastResponseCode}
}

// value is the endpoint of the row, its secrets opened with box.
func (r *endpointRow) value(box *secretbox.Keyring) (*store.Endpoint, error) {
	e := r.e
	if err := r.cols.Decode(&e); err != nil {
		return nil, err
	}
	if err := openSecrets(box, &e, r.previous, r.keyID); err != nil {
		return nil, err
	}
	e.DisabledAt = tsPtr(e.DisabledAt)
	e.Health.FailingSince, e.Health.LastAttemptAt = tsPtr(e.Health.FailingSince), tsPtr(e.Health.LastAttemptAt)
	e.CreatedAt, e.UpdatedAt = store.Timestamp(e.CreatedAt), store.Timestamp(e.UpdatedAt)
	return &e, nil
}

func (s *Store) scanEndpoint(r Row) (*store.Endpoint, error) {
	var er endpointRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value(s.box)
}

// storedSecret is one element of the previous_secrets column, times in
// unix microseconds (0: unknown) so that both databases keep the same
// JSON.
type storedSecret struct {
	Secret     string `json:"secret"`
	ReplacedAt int64  `json:"replaced_at,omitempty"`
	ExpiresAt  int64  `json:"expires_at"`
}

// secretPlace binds a sealed secret to its endpoint: copied into another
// endpoint's row, it does not open.
func secretPlace(endpointID string) string { return "endpoints/" + endpointID }

// sealSecrets is how e's secrets are stored: the secret column, the
// previous_secrets column and the secret_key_id beside them, sealed under
// box's current key (in clear, with key id "", without a box). This and
// openSecrets are the only places that see both forms.
func sealSecrets(box *secretbox.Keyring, e *store.Endpoint, endpointID string) (secret, previous, keyID string) {
	place := secretPlace(endpointID)
	ps := make([]storedSecret, 0, len(e.PreviousSecrets))
	for _, p := range e.PreviousSecrets {
		ps = append(ps, storedSecret{Secret: box.Seal(p.Secret, place), ReplacedAt: unixMicro(p.ReplacedAt), ExpiresAt: unixMicro(p.ExpiresAt)})
	}
	// Marshal cannot fail on strings and numbers.
	b, _ := json.Marshal(ps)
	return box.Seal(e.Secret, place), string(b), box.ID()
}

// openSecrets sets e's Secret and PreviousSecrets from the stored columns
// (e.Secret holding the secret column), opening them with box.
func openSecrets(box *secretbox.Keyring, e *store.Endpoint, previous, keyID string) error {
	place := secretPlace(e.ID)
	secret, err := box.Open(e.Secret, keyID, place)
	if err != nil {
		return fmt.Errorf("endpoint %s: open its secret: %w", e.ID, err)
	}
	var ps []storedSecret
	if err := json.Unmarshal([]byte(previous), &ps); err != nil {
		return fmt.Errorf("endpoint %s: previous_secrets column: %w", e.ID, err)
	}
	e.Secret, e.PreviousSecrets = secret, nil
	for _, p := range ps {
		v, err := box.Open(p.Secret, keyID, place)
		if err != nil {
			return fmt.Errorf("endpoint %s: open a previous secret: %w", e.ID, err)
		}
		e.PreviousSecrets = append(e.PreviousSecrets, store.PreviousSecret{Secret: v, ReplacedAt: fromUnixMicro(p.ReplacedAt), ExpiresAt: fromUnixMicro(p.ExpiresAt)})
	}
	return nil
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUnixMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// shareFormat share-locks the stored format an endpoint names, if any, so
// FormatDelete cannot delete it while this transaction makes it used.
func (s *Store) shareFormat(ctx context.Context, tx Querier, name string) error {
	if name == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM formats WHERE name = $1`+s.db.LockClause(LockShare), name)
	return err
}

// EndpointCreate stores a new endpoint, with a new ep_ id unless e has one.
func (s *Store) EndpointCreate(ctx context.Context, e *store.Endpoint) (*store.Endpoint, error) {
	return s.EndpointCreateCapped(ctx, e, 0)
}

// EndpointCreateCapped stores a new endpoint unless its tenant has max
// already; see store.Store. The tenant's row is locked first (FOR NO KEY
// UPDATE on PostgreSQL, which waits for another create of the same tenant
// but not for ingest's KEY SHARE locks; SQLite's single writer serializes
// anyway), so the count and the insert cannot interleave with another
// node's.
func (s *Store) EndpointCreateCapped(ctx context.Context, e *store.Endpoint, max int) (*store.Endpoint, error) {
	cols := store.NewEndpointJSON(e)
	created := s.orNow(e.CreatedAt)
	epID := e.ID
	if epID == "" {
		epID = id.NewAt(id.Endpoint, created)
	}
	reason, disabledAt := "", (*time.Time)(nil)
	if !e.Enabled {
		reason, disabledAt = store.DisabledManual, &created
	}
	secret, previous, keyID := sealSecrets(s.box, e, epID)
	var out *store.Endpoint
	var have int
	err := s.db.Tx(ctx, func(tx Querier) error {
		if max > 0 {
			if _, err := scanString(tx.QueryRow(ctx, `SELECT id FROM tenants WHERE id = $1`+s.db.LockClause(LockNoKeyUpdate), e.TenantID)); err != nil {
				return notFound(err, "tenant %q", e.TenantID)
			}
			// Deleted endpoints do not count: only live ones do.
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM endpoints ep WHERE ep.tenant_id = $1 AND `+EndpointLive, e.TenantID).Scan(&have); err != nil {
				return err
			}
			if have >= max {
				return store.ErrEndpointLimit
			}
		}
		err := s.shareFormat(ctx, tx, e.Format)
		if err != nil {
			return err
		}
		out, err = s.scanEndpoint(tx.QueryRow(ctx, `
			INSERT INTO endpoints AS ep (id, tenant_id, url, description, events, format,
				secret, previous_secrets, secret_key_id, enabled,
				headers, rate_limit, metadata, created_at, updated_at, max_in_flight,
				disabled_reason, disabled_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17)
			RETURNING `+returning(EndpointCols),
			epID, e.TenantID, e.URL, e.Description, cols.Events, e.Format,
			secret, previous, keyID, e.Enabled,
			cols.Headers, e.RateLimit, cols.Metadata, created, e.MaxInFlight,
			reason, disabledAt))
		return err
	})
	switch {
	case errors.Is(err, store.ErrEndpointLimit):
		return nil, fmt.Errorf("tenant %q has %d endpoints, at most %d allowed: %w", e.TenantID, have, max, err)
	case errors.Is(err, store.ErrNotFound):
		return nil, err
	case s.is(err, KindForeignKey):
		return nil, fmt.Errorf("tenant %q: %w", e.TenantID, store.ErrNotFound)
	case s.is(err, KindUnique):
		return nil, fmt.Errorf("endpoint %q already exists: %w", epID, store.ErrConflict)
	case err != nil:
		return nil, s.Err(err, "create endpoint")
	}
	return out, nil
}

// EndpointGet loads one of the tenant's live endpoints.
func (s *Store) EndpointGet(ctx context.Context, tenantID, endpointID string) (*store.Endpoint, error) {
	return getRow(ctx, s, s.read, s.scanEndpointCounted, fmt.Sprintf("endpoint %q", endpointID),
		`SELECT `+EndpointCols+`, `+dayCounts(3)+` FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive,
		tenantID, endpointID, s.Now().Add(-healthWindow))
}

// EndpointList pages through the tenant's live endpoints, newest first.
func (s *Store) EndpointList(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Endpoint, error) {
	return pageRows(ctx, s, s.scanEndpointCounted, "endpoints", p, "id",
		`SELECT `+EndpointCols+`, `+dayCounts(2)+` FROM endpoints ep WHERE tenant_id = $1 AND `+EndpointLive,
		tenantID, s.Now().Add(-healthWindow))
}

// dayCounts is the columns of the last 24 hours' attempt counts of the
// endpoint ep, succeeded and failed, from its hourly buckets since $n (a
// day ago): read by key in the statement that reads the endpoint, so the
// counts and the endpoint's health columns are of one snapshot. Read in a
// second statement, a record committed between the two showed its success
// counted but not the reset of consecutive_failures it made.
func dayCounts(n int) string {
	bucket := fmt.Sprintf(`FROM endpoint_health h WHERE h.endpoint_id = ep.id AND h.hour > $%d`, n)
	return `(SELECT coalesce(sum(h.succeeded), 0) ` + bucket + `), (SELECT coalesce(sum(h.failed), 0) ` + bucket + `)`
}

// scanEndpointCounted scans EndpointCols followed by dayCounts.
func (s *Store) scanEndpointCounted(r Row) (*store.Endpoint, error) {
	var er endpointRow
	var ok, failed int
	if err := r.Scan(append(er.dest(), &ok, &failed)...); err != nil {
		return nil, err
	}
	e, err := er.value(s.box)
	if err != nil {
		return nil, err
	}
	e.Health.Succeeded24h, e.Health.Failed24h = ok, failed
	return e, nil
}

// EndpointUpdate writes every mutable field of e. Enabling an endpoint
// wakes the workers: its deliveries may have been waiting.
func (s *Store) EndpointUpdate(ctx context.Context, e *store.Endpoint) (*store.Endpoint, error) {
	cols := store.NewEndpointJSON(e)
	secret, previous, keyID := sealSecrets(s.box, e, e.ID)
	var out *store.Endpoint
	err := s.db.Tx(ctx, func(tx Querier) error {
		var wasEnabled bool
		err := tx.QueryRow(ctx, `SELECT ep.enabled FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive+s.db.LockClause(LockUpdate),
			e.TenantID, e.ID).Scan(&wasEnabled)
		if err != nil {
			return notFound(err, "endpoint %q", e.ID)
		}
		if err := s.shareFormat(ctx, tx, e.Format); err != nil {
			return err
		}
		out, err = s.scanEndpoint(tx.QueryRow(ctx, `
			UPDATE endpoints AS ep SET url = $3, description = $4, events = $5, format = $6,
				secret = $7, previous_secrets = $8, secret_key_id = $9, enabled = $10,
				headers = $11, rate_limit = $12, metadata = $13, updated_at = $14, max_in_flight = $15,
				-- Disabling by hand is manual; enabling clears the reason
				-- and the failing streak. The right-hand sides read the row
				-- as it was.
				disabled_reason = CASE WHEN $10 THEN '' WHEN ep.enabled THEN 'manual' ELSE ep.disabled_reason END,
				disabled_at = CASE WHEN $10 THEN NULL WHEN ep.enabled THEN $14 ELSE ep.disabled_at END,
				consecutive_failures = CASE WHEN $10 AND NOT ep.enabled THEN 0 ELSE ep.consecutive_failures END,
				failing_since = CASE WHEN $10 AND NOT ep.enabled THEN NULL ELSE ep.failing_since END
			WHERE tenant_id = $1 AND id = $2
			RETURNING `+returning(EndpointCols),
			e.TenantID, e.ID, e.URL, e.Description, cols.Events, e.Format,
			secret, previous, keyID, e.Enabled,
			cols.Headers, e.RateLimit, cols.Metadata, s.orNow(e.UpdatedAt), e.MaxInFlight))
		if err != nil {
			return err
		}
		if !wasEnabled && out.Enabled {
			return s.db.Notify(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, s.Err(err, "update endpoint %q", e.ID)
	}
	return out, nil
}

// EndpointDelete deletes the endpoint softly; see store.Store. The row
// stays, so its deliveries (and their attempts) keep the endpoint they
// name and stay readable, but disabled and marked deleted it
// is matched, claimed for and shown by nothing, and what it held that is a
// credential (its secrets and headers) is erased. Deliveries still waiting
// fail at once rather than wait for ever; one in flight is recorded as it
// ends, failed if it would have been retried (DeliveryRecordAttempts).
func (s *Store) EndpointDelete(ctx context.Context, tenantID, endpointID string) error {
	now := s.Now()
	err := s.db.Tx(ctx, func(tx Querier) error {
		// FOR UPDATE, which an UPDATE of no key column would not take:
		// ingest key-share locks the endpoints it makes deliveries for, so
		// this waits for those batches to commit, and the update of the
		// waiting deliveries below sees their deliveries too.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive+s.db.LockClause(LockUpdate),
			tenantID, endpointID).Scan(&one)
		if err != nil {
			return notFound(err, "endpoint %q", endpointID)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE endpoints AS ep SET deleted_at = $3, enabled = false, updated_at = $3,
				secret = '', previous_secrets = '[]', secret_key_id = '', headers = '{}'
			WHERE ep.tenant_id = $1 AND ep.id = $2`, tenantID, endpointID, now); err != nil {
			return err
		}
		// status IN (...) spelled as the partial index on due rows has it,
		// so SQLite uses that index.
		_, err = tx.Exec(ctx, `
			UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
				lease_owner = NULL, lease_expires_at = NULL, last_error = $3, updated_at = $4
			WHERE endpoint_id = $1 AND tenant_id = $2
				AND status IN ('pending', 'retrying', 'delivering')
				AND (status <> 'delivering' OR lease_expires_at <= $4)`,
			endpointID, tenantID, store.EndpointDeletedError, now)
		return err
	})
	if err != nil {
		return s.Err(err, "delete endpoint %q", endpointID)
	}
	return nil
}

// EndpointPurgeDeleted removes deleted endpoints of which no delivery
// remains; see store.Store. The endpoints are found on their partial index
// (endpoints_deleted), which holds the deleted ones only, and locked; the
// delete checks again that none has a delivery, in the same transaction.
// Nothing makes a delivery for a deleted endpoint (it is matched by no
// event, and a retry or replay needs a delivery that exists), so an
// endpoint found with none keeps none; the check under the lock is what
// makes that so rather than assumed, since a delivery must not outlive
// its endpoint.
func (s *Store) EndpointPurgeDeleted(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("purge deleted endpoints: limit must be set")
	}
	var n int64
	err := s.db.Tx(ctx, func(tx Querier) error {
		n = 0
		rows, err := tx.Query(ctx, `
			SELECT ep.id FROM endpoints ep
			WHERE ep.deleted_at IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = ep.id)
			ORDER BY ep.id
			LIMIT $1`+s.db.LockClause(LockUpdate), limit)
		ids, err := Collect(rows, err, scanString)
		if err != nil || len(ids) == 0 {
			return err
		}
		// Its health by a statement of its own: on PostgreSQL it has no
		// foreign key to cascade by (migration 15).
		if _, err := tx.Exec(ctx, `DELETE FROM endpoint_health WHERE `+s.db.InList("endpoint_id", 1), ids); err != nil {
			return err
		}
		n, err = tx.Exec(ctx, `
			DELETE FROM endpoints AS ep WHERE `+s.db.InList("ep.id", 1)+`
				AND ep.deleted_at IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = ep.id)`, ids)
		return err
	})
	if err != nil {
		return 0, s.Err(err, "purge deleted endpoints")
	}
	return int(n), nil
}

// EndpointListByFormat lists the live endpoints of every tenant that use format.
func (s *Store) EndpointListByFormat(ctx context.Context, format string) ([]*store.Endpoint, error) {
	return listRows(ctx, s, s.scanEndpoint, fmt.Sprintf("endpoints of format %q", format),
		`SELECT `+EndpointCols+` FROM endpoints ep WHERE format = $1 AND `+EndpointLive+` ORDER BY id`, format)
}

// EndpointSecretsCheck reports how the live endpoints' secrets are kept
// and opens one of each key's; see store.Store.
func (s *Store) EndpointSecretsCheck(ctx context.Context) (*store.SecretsReport, error) {
	rows, err := s.read.Query(ctx, `SELECT ep.secret_key_id, count(*), min(ep.id) FROM endpoints ep
		WHERE `+EndpointLive+` GROUP BY ep.secret_key_id ORDER BY ep.secret_key_id`)
	type use struct {
		keyID, sample string
		n             int
	}
	uses, err := Collect(rows, err, func(r Row) (use, error) {
		var u use
		return u, r.Scan(&u.keyID, &u.n, &u.sample)
	})
	if err != nil {
		return nil, s.Err(err, "read the endpoints' secret keys")
	}
	out := &store.SecretsReport{Sealed: map[string]int{}}
	var unknown []string
	for _, u := range uses {
		if u.keyID == "" {
			out.Clear = u.n
			continue
		}
		out.Sealed[u.keyID] = u.n
		if !s.box.Has(u.keyID) {
			unknown = append(unknown, fmt.Sprintf("%d endpoints under key %s", u.n, u.keyID))
			continue
		}
		// The id matches; the key must open what it sealed too.
		if _, err := getRow(ctx, s, s.read, s.scanEndpoint, fmt.Sprintf("endpoint %q", u.sample),
			`SELECT `+EndpointCols+` FROM endpoints ep WHERE ep.id = $1`, u.sample); err != nil {
			return out, fmt.Errorf("endpoint secrets sealed under key %s: %w", u.keyID, err)
		}
	}
	if len(unknown) > 0 {
		return out, fmt.Errorf("endpoint secrets are sealed under a key this server was not given (%s): %w",
			strings.Join(unknown, ", "), secretbox.ErrUnknownKey)
	}
	return out, nil
}

// resealBatch is how many endpoints EndpointSecretsReseal seals again in
// one transaction.
const resealBatch = 100

// EndpointSecretsReseal seals every live endpoint's secrets under the
// keyring's current key; see store.Store. Each batch is read locked and
// written in one transaction, so a rotation or an update running beside it
// is neither lost nor undone.
func (s *Store) EndpointSecretsReseal(ctx context.Context) (int, error) {
	if s.box == nil {
		return 0, errors.New("reseal endpoint secrets: no encryption key was given")
	}
	changed := 0
	after := ""
	for {
		var ids []string
		err := s.db.Tx(ctx, func(tx Querier) error {
			rows, err := tx.Query(ctx, `SELECT `+EndpointCols+` FROM endpoints ep
				WHERE ep.id > $1 AND ep.secret_key_id <> $2 AND `+EndpointLive+`
				ORDER BY ep.id LIMIT $3`+s.db.LockClause(LockUpdate), after, s.box.ID(), resealBatch)
			eps, err := Collect(rows, err, s.scanEndpoint)
			if err != nil {
				return err
			}
			for _, e := range eps {
				ids = append(ids, e.ID)
				secret, previous, keyID := sealSecrets(s.box, e, e.ID)
				if _, err := tx.Exec(ctx, `UPDATE endpoints SET secret = $2, previous_secrets = $3, secret_key_id = $4 WHERE id = $1`,
					e.ID, secret, previous, keyID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return changed, s.Err(err, "reseal endpoint secrets")
		}
		changed += len(ids)
		if len(ids) < resealBatch {
			return changed, nil
		}
		after = ids[len(ids)-1]
	}
}
