package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// EndpointCols are the columns endpointRow scans; queries name the table ep.
const EndpointCols = `ep.id, ep.tenant_id, ep.url, ep.description, ep.events, ep.format,
	ep.secret, ep.previous_secret, ep.previous_secret_expires_at, ep.enabled,
	ep.headers, ep.rate_limit, ep.metadata, ep.created_at, ep.updated_at, ep.max_in_flight,
	ep.disabled_reason, ep.disabled_at, ep.consecutive_failures, ep.failing_since,
	ep.last_attempt_at, ep.last_response_code`

// endpointRow scans EndpointCols, alone or as part of a wider row.
type endpointRow struct {
	e                       store.Endpoint
	cols                    store.EndpointJSON
	previousSecretExpiresAt *time.Time
}

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{&e.ID, &e.TenantID, &e.URL, &e.Description, &r.cols.Events, &e.Format,
		&e.Secret, &e.PreviousSecret, &r.previousSecretExpiresAt, &e.Enabled,
		&r.cols.Headers, &e.RateLimit, &r.cols.Metadata, &e.CreatedAt, &e.UpdatedAt, &e.MaxInFlight,
		&e.DisabledReason, &e.DisabledAt, &e.Health.ConsecutiveFailures, &e.Health.FailingSince,
		&e.Health.LastAttemptAt, &e.Health.LastResponseCode}
}

func (r *endpointRow) value() (*store.Endpoint, error) {
	e := r.e
	if err := r.cols.Decode(&e); err != nil {
		return nil, err
	}
	e.PreviousSecretExpiresAt = tsPtr(r.previousSecretExpiresAt)
	e.DisabledAt = tsPtr(e.DisabledAt)
	e.Health.FailingSince, e.Health.LastAttemptAt = tsPtr(e.Health.FailingSince), tsPtr(e.Health.LastAttemptAt)
	e.CreatedAt, e.UpdatedAt = store.Timestamp(e.CreatedAt), store.Timestamp(e.UpdatedAt)
	return &e, nil
}

func scanEndpoint(r Row) (*store.Endpoint, error) {
	var er endpointRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value()
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
	var out *store.Endpoint
	var have int
	err := s.db.Tx(ctx, func(tx Querier) error {
		if max > 0 {
			if _, err := scanString(tx.QueryRow(ctx, `SELECT id FROM tenants WHERE id = $1`+s.db.LockClause(LockNoKeyUpdate), e.TenantID)); err != nil {
				return notFound(err, "tenant %q", e.TenantID)
			}
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM endpoints WHERE tenant_id = $1`, e.TenantID).Scan(&have); err != nil {
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
		out, err = scanEndpoint(tx.QueryRow(ctx, `
			INSERT INTO endpoints AS ep (id, tenant_id, url, description, events, format,
				secret, previous_secret, previous_secret_expires_at, enabled,
				headers, rate_limit, metadata, created_at, updated_at, max_in_flight,
				disabled_reason, disabled_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17)
			RETURNING `+returning(EndpointCols),
			epID, e.TenantID, e.URL, e.Description, cols.Events, e.Format,
			e.Secret, e.PreviousSecret, tsPtr(e.PreviousSecretExpiresAt), e.Enabled,
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

// EndpointGet loads one of the tenant's endpoints.
func (s *Store) EndpointGet(ctx context.Context, tenantID, endpointID string) (*store.Endpoint, error) {
	e, err := getRow(ctx, s, s.read, scanEndpoint, fmt.Sprintf("endpoint %q", endpointID),
		`SELECT `+EndpointCols+` FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2`, tenantID, endpointID)
	if err != nil {
		return nil, err
	}
	if err := s.dayCounts(ctx, []*store.Endpoint{e}); err != nil {
		return nil, err
	}
	return e, nil
}

// EndpointList pages through the tenant's endpoints, newest first.
func (s *Store) EndpointList(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Endpoint, error) {
	eps, err := pageRows(ctx, s, scanEndpoint, "endpoints", p, "id",
		`SELECT `+EndpointCols+` FROM endpoints ep WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, err
	}
	if err := s.dayCounts(ctx, eps); err != nil {
		return nil, err
	}
	return eps, nil
}

// dayCounts fills in the last 24 hours' attempt counts of eps from their
// hourly buckets: the buckets of the hours that began after a day ago,
// read in one query on the buckets' primary key.
func (s *Store) dayCounts(ctx context.Context, eps []*store.Endpoint) error {
	if len(eps) == 0 {
		return nil
	}
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	rows, err := s.read.Query(ctx, `SELECT endpoint_id, sum(succeeded), sum(failed) FROM endpoint_health
		WHERE `+s.db.InList("endpoint_id", 1)+` AND hour > $2 GROUP BY endpoint_id`,
		ids, s.Now().Add(-healthWindow))
	type counts struct {
		id     string
		ok, no int
	}
	got, err := Collect(rows, err, func(r Row) (counts, error) {
		var c counts
		return c, r.Scan(&c.id, &c.ok, &c.no)
	})
	if err != nil {
		return s.Err(err, "read endpoint health")
	}
	by := make(map[string]counts, len(got))
	for _, c := range got {
		by[c.id] = c
	}
	for _, e := range eps {
		c := by[e.ID]
		e.Health.Succeeded24h, e.Health.Failed24h = c.ok, c.no
	}
	return nil
}

// EndpointUpdate writes every mutable field of e. Enabling an endpoint
// wakes the workers: its deliveries may have been waiting.
func (s *Store) EndpointUpdate(ctx context.Context, e *store.Endpoint) (*store.Endpoint, error) {
	cols := store.NewEndpointJSON(e)
	var out *store.Endpoint
	err := s.db.Tx(ctx, func(tx Querier) error {
		var wasEnabled bool
		err := tx.QueryRow(ctx, `SELECT enabled FROM endpoints WHERE tenant_id = $1 AND id = $2`+s.db.LockClause(LockUpdate),
			e.TenantID, e.ID).Scan(&wasEnabled)
		if err != nil {
			return notFound(err, "endpoint %q", e.ID)
		}
		if err := s.shareFormat(ctx, tx, e.Format); err != nil {
			return err
		}
		out, err = scanEndpoint(tx.QueryRow(ctx, `
			UPDATE endpoints AS ep SET url = $3, description = $4, events = $5, format = $6,
				secret = $7, previous_secret = $8, previous_secret_expires_at = $9, enabled = $10,
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
			e.Secret, e.PreviousSecret, tsPtr(e.PreviousSecretExpiresAt), e.Enabled,
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

// EndpointDelete deletes the endpoint and, by cascade, its deliveries and
// their attempts.
func (s *Store) EndpointDelete(ctx context.Context, tenantID, endpointID string) error {
	n, err := s.write.Exec(ctx, `DELETE FROM endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, endpointID)
	if err != nil {
		return s.Err(err, "delete endpoint %q", endpointID)
	}
	if n == 0 {
		return fmt.Errorf("endpoint %q: %w", endpointID, store.ErrNotFound)
	}
	return nil
}

// EndpointListByFormat lists the endpoints of every tenant that use format.
func (s *Store) EndpointListByFormat(ctx context.Context, format string) ([]*store.Endpoint, error) {
	return listRows(ctx, s, scanEndpoint, fmt.Sprintf("endpoints of format %q", format),
		`SELECT `+EndpointCols+` FROM endpoints ep WHERE format = $1 ORDER BY id`, format)
}
