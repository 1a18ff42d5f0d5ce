package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// endpointCols are the columns endpointRow scans; queries name the table ep.
const endpointCols = `ep.id, ep.tenant_id, ep.url, ep.description, ep.events, ep.format,
	ep.secret, ep.previous_secret, ep.previous_secret_expires_at, ep.enabled,
	ep.headers, ep.rate_limit, ep.metadata, ep.created_at, ep.updated_at`

// endpointRow scans endpointCols, alone or as part of a wider row.
type endpointRow struct {
	e                       store.Endpoint
	cols                    store.EndpointJSON
	previousSecretExpiresAt sql.NullInt64
	created, updated        int64
}

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{&e.ID, &e.TenantID, &e.URL, &e.Description, &r.cols.Events, &e.Format,
		&e.Secret, &e.PreviousSecret, &r.previousSecretExpiresAt, &e.Enabled,
		&r.cols.Headers, &e.RateLimit, &r.cols.Metadata, &r.created, &r.updated}
}

func (r *endpointRow) value() (*store.Endpoint, error) {
	e := r.e
	if err := r.cols.Decode(&e); err != nil {
		return nil, err
	}
	e.PreviousSecretExpiresAt = fromNullUS(r.previousSecretExpiresAt)
	e.CreatedAt, e.UpdatedAt = fromUS(r.created), fromUS(r.updated)
	return &e, nil
}

func scanEndpoint(r row) (*store.Endpoint, error) {
	var er endpointRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value()
}

// EndpointCreate stores a new endpoint, with a new ep_ id unless e has one.
func (s *Store) EndpointCreate(ctx context.Context, e *store.Endpoint) (*store.Endpoint, error) {
	cols := store.NewEndpointJSON(e)
	created := s.orNow(e.CreatedAt)
	epID := e.ID
	if epID == "" {
		epID = id.NewAt(id.Endpoint, created)
	}
	out, err := scanEndpoint(s.write.QueryRowContext(ctx, `
		INSERT INTO endpoints AS ep (id, tenant_id, url, description, events, format,
			secret, previous_secret, previous_secret_expires_at, enabled,
			headers, rate_limit, metadata, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)
		RETURNING `+returning(endpointCols),
		epID, e.TenantID, e.URL, e.Description, cols.Events, e.Format,
		e.Secret, e.PreviousSecret, usPtr(e.PreviousSecretExpiresAt), e.Enabled,
		cols.Headers, e.RateLimit, cols.Metadata, us(created)))
	switch {
	case isForeignKey(err):
		return nil, fmt.Errorf("tenant %q: %w", e.TenantID, store.ErrNotFound)
	case isUnique(err):
		return nil, fmt.Errorf("endpoint %q already exists: %w", epID, store.ErrConflict)
	case err != nil:
		return nil, dbErr(err, "create endpoint")
	}
	return out, nil
}

// EndpointGet loads one of the tenant's endpoints.
func (s *Store) EndpointGet(ctx context.Context, tenantID, endpointID string) (*store.Endpoint, error) {
	e, err := scanEndpoint(s.read.QueryRowContext(ctx,
		`SELECT `+endpointCols+` FROM endpoints ep WHERE ep.tenant_id = ?1 AND ep.id = ?2`, tenantID, endpointID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("endpoint %q: %w", endpointID, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get endpoint %q", endpointID)
	}
	return e, nil
}

// EndpointList pages through the tenant's endpoints, newest first.
func (s *Store) EndpointList(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Endpoint, error) {
	q, args, err := page(`SELECT `+endpointCols+` FROM endpoints ep WHERE tenant_id = ?1`, []any{tenantID}, "id", p)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanEndpoint)
	if err != nil {
		return nil, dbErr(err, "list endpoints")
	}
	return out, nil
}

// EndpointUpdate writes every mutable field of e. Enabling an endpoint
// wakes the workers: its deliveries may have been waiting.
func (s *Store) EndpointUpdate(ctx context.Context, e *store.Endpoint) (*store.Endpoint, error) {
	cols := store.NewEndpointJSON(e)
	var out *store.Endpoint
	var enabled bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var wasEnabled bool
		err := tx.QueryRowContext(ctx, `SELECT enabled FROM endpoints WHERE tenant_id = ?1 AND id = ?2`,
			e.TenantID, e.ID).Scan(&wasEnabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("endpoint %q: %w", e.ID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, err = scanEndpoint(tx.QueryRowContext(ctx, `
			UPDATE endpoints AS ep SET url = ?3, description = ?4, events = ?5, format = ?6,
				secret = ?7, previous_secret = ?8, previous_secret_expires_at = ?9, enabled = ?10,
				headers = ?11, rate_limit = ?12, metadata = ?13, updated_at = ?14
			WHERE tenant_id = ?1 AND id = ?2
			RETURNING `+returning(endpointCols),
			e.TenantID, e.ID, e.URL, e.Description, cols.Events, e.Format,
			e.Secret, e.PreviousSecret, usPtr(e.PreviousSecretExpiresAt), e.Enabled,
			cols.Headers, e.RateLimit, cols.Metadata, us(s.orNow(e.UpdatedAt))))
		enabled = err == nil && !wasEnabled && out.Enabled
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, dbErr(err, "update endpoint %q", e.ID)
	}
	if enabled {
		s.wake()
	}
	return out, nil
}

// EndpointDelete deletes the endpoint and, by cascade, its deliveries and
// their attempts.
func (s *Store) EndpointDelete(ctx context.Context, tenantID, endpointID string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM endpoints WHERE tenant_id = ?1 AND id = ?2`, tenantID, endpointID)
	if err != nil {
		return dbErr(err, "delete endpoint %q", endpointID)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("endpoint %q: %w", endpointID, store.ErrNotFound)
	}
	return nil
}

// EndpointListByFormat lists the endpoints of every tenant that use format.
func (s *Store) EndpointListByFormat(ctx context.Context, format string) ([]*store.Endpoint, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+endpointCols+` FROM endpoints ep WHERE format = ?1 ORDER BY id`, format)
	out, err := collect(rows, err, scanEndpoint)
	if err != nil {
		return nil, dbErr(err, "list endpoints of format %q", format)
	}
	return out, nil
}
