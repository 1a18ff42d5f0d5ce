package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

// row is what *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

// collect scans every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const tenantCols = `id, name, metadata, created_at, updated_at`

func scanTenant(r row) (*store.Tenant, error) {
	var t store.Tenant
	var meta string
	var created, updated int64
	if err := r.Scan(&t.ID, &t.Name, &meta, &created, &updated); err != nil {
		return nil, err
	}
	t.Metadata = json.RawMessage(meta)
	t.CreatedAt, t.UpdatedAt = fromUS(created), fromUS(updated)
	return &t, nil
}

// TenantCreate stores a new tenant; ErrConflict if the id is taken.
func (s *Store) TenantCreate(ctx context.Context, t *store.Tenant) (*store.Tenant, error) {
	out, err := scanTenant(s.write.QueryRowContext(ctx, `
		INSERT INTO tenants (id, name, metadata, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?4)
		RETURNING `+tenantCols,
		t.ID, t.Name, store.JSONObject(t.Metadata), us(s.orNow(t.CreatedAt))))
	if isUnique(err) {
		return nil, fmt.Errorf("tenant %q already exists: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return nil, dbErr(err, "create tenant %q", t.ID)
	}
	return out, nil
}

// TenantGet loads one tenant.
func (s *Store) TenantGet(ctx context.Context, tenantID string) (*store.Tenant, error) {
	t, err := scanTenant(s.read.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ?1`, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %q: %w", tenantID, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get tenant %q", tenantID)
	}
	return t, nil
}

// TenantList pages through tenants, newest first.
func (s *Store) TenantList(ctx context.Context, p *store.ListParams) ([]*store.Tenant, error) {
	q, args, err := page(`SELECT `+tenantCols+` FROM tenants WHERE true`, nil, "id", p)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, dbErr(err, "list tenants")
	}
	return out, nil
}

// TenantUpdate writes the name and metadata of t.
func (s *Store) TenantUpdate(ctx context.Context, t *store.Tenant) (*store.Tenant, error) {
	out, err := scanTenant(s.write.QueryRowContext(ctx, `
		UPDATE tenants SET name = ?2, metadata = ?3, updated_at = ?4
		WHERE id = ?1
		RETURNING `+tenantCols,
		t.ID, t.Name, store.JSONObject(t.Metadata), us(s.orNow(t.UpdatedAt))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %q: %w", t.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "update tenant %q", t.ID)
	}
	return out, nil
}

// TenantDelete deletes the tenant and, by cascade, its keys, endpoints,
// events, deliveries and attempts.
func (s *Store) TenantDelete(ctx context.Context, tenantID string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Idempotency records are scoped by key id, not by a foreign key:
		// drop the ones of this tenant's keys before the keys go.
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM idempotency_records
			WHERE scope IN (SELECT id FROM api_keys WHERE tenant_id = ?1)`, tenantID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?1`, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("tenant %q: %w", tenantID, store.ErrNotFound)
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return dbErr(err, "delete tenant %q", tenantID)
	}
	return err
}

const keyCols = `id, coalesce(tenant_id, ''), name, hash, created_at`

func scanKey(r row) (*store.Key, error) {
	var k store.Key
	var created int64
	if err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Hash, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = fromUS(created)
	return &k, nil
}

// KeyCreate stores a key by its hash; TenantID "" makes an admin key.
func (s *Store) KeyCreate(ctx context.Context, k *store.Key) (*store.Key, error) {
	created := s.orNow(k.CreatedAt)
	keyID := k.ID
	if keyID == "" {
		keyID = id.NewAt(id.Key, created)
	}
	out, err := scanKey(s.write.QueryRowContext(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, hash, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5)
		RETURNING `+keyCols,
		keyID, nullString(k.TenantID), k.Name, k.Hash, us(created)))
	switch {
	case isUnique(err):
		return nil, fmt.Errorf("key %q or its hash already exists: %w", keyID, store.ErrConflict)
	case isForeignKey(err):
		return nil, fmt.Errorf("tenant %q: %w", k.TenantID, store.ErrNotFound)
	case err != nil:
		return nil, dbErr(err, "create key")
	}
	return out, nil
}

// KeyGetByHash loads the key with this hash.
func (s *Store) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get key")
	}
	return k, nil
}

// KeyAdminExists reports whether any admin key is stored.
func (s *Store) KeyAdminExists(ctx context.Context) (bool, error) {
	var ok bool
	err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant_id IS NULL)`).Scan(&ok)
	if err != nil {
		return false, dbErr(err, "look for an admin key")
	}
	return ok, nil
}

const formatCols = `name, definition, created_at, updated_at`

func scanFormat(r row) (*store.Format, error) {
	var f store.Format
	var def string
	var created, updated int64
	if err := r.Scan(&f.Name, &def, &created, &updated); err != nil {
		return nil, err
	}
	f.Definition = json.RawMessage(def)
	f.CreatedAt, f.UpdatedAt = fromUS(created), fromUS(updated)
	return &f, nil
}

// FormatPut creates or replaces a format and reports whether it was new.
func (s *Store) FormatPut(ctx context.Context, f *store.Format) (created bool, err error) {
	at := us(s.orNow(f.UpdatedAt))
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO formats (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
			ON CONFLICT (name) DO NOTHING`, f.Name, string(f.Definition), at)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = true
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE formats SET definition = ?2, updated_at = ?3 WHERE name = ?1`,
			f.Name, string(f.Definition), at)
		return err
	})
	if err != nil {
		return false, dbErr(err, "put format %q", f.Name)
	}
	return created, nil
}

// FormatGet loads one format.
func (s *Store) FormatGet(ctx context.Context, name string) (*store.Format, error) {
	f, err := scanFormat(s.read.QueryRowContext(ctx, `SELECT `+formatCols+` FROM formats WHERE name = ?1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("format %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get format %q", name)
	}
	return f, nil
}

// FormatList returns every stored format by name.
func (s *Store) FormatList(ctx context.Context) ([]*store.Format, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+formatCols+` FROM formats ORDER BY name`)
	out, err := collect(rows, err, scanFormat)
	if err != nil {
		return nil, dbErr(err, "list formats")
	}
	return out, nil
}

// FormatDelete deletes a format no endpoint uses. The writer transaction
// makes the check and the delete atomic.
func (s *Store) FormatDelete(ctx context.Context, name string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var used bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE format = ?1)`, name).Scan(&used); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM formats WHERE name = ?1`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("format %q: %w", name, store.ErrNotFound)
		}
		if used {
			return fmt.Errorf("format %q is used by an endpoint: %w", name, store.ErrConflict)
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return dbErr(err, "delete format %q", name)
	}
	return err
}

const eventTypeCols = `name, description, schema, archived, created_at, updated_at`

func scanEventType(r row) (*store.EventType, error) {
	var et store.EventType
	var schema sql.NullString
	var created, updated int64
	if err := r.Scan(&et.Name, &et.Description, &schema, &et.Archived, &created, &updated); err != nil {
		return nil, err
	}
	if schema.Valid {
		et.Schema = json.RawMessage(schema.String)
	}
	et.CreatedAt, et.UpdatedAt = fromUS(created), fromUS(updated)
	return &et, nil
}

// EventTypePut creates or replaces a catalog entry, keeping its creation
// time.
func (s *Store) EventTypePut(ctx context.Context, et *store.EventType) (*store.EventType, error) {
	var schema any
	if et.Schema != nil {
		schema = string(et.Schema)
	}
	out, err := scanEventType(s.write.QueryRowContext(ctx, `
		INSERT INTO event_types (name, description, schema, archived, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		ON CONFLICT (name) DO UPDATE SET
			description = excluded.description,
			schema = excluded.schema,
			archived = excluded.archived,
			updated_at = excluded.updated_at
		RETURNING `+eventTypeCols,
		et.Name, et.Description, schema, et.Archived, us(s.orNow(et.UpdatedAt))))
	if err != nil {
		return nil, dbErr(err, "put event type %q", et.Name)
	}
	return out, nil
}

// EventTypeGet loads one catalog entry.
func (s *Store) EventTypeGet(ctx context.Context, name string) (*store.EventType, error) {
	et, err := scanEventType(s.read.QueryRowContext(ctx, `SELECT `+eventTypeCols+` FROM event_types WHERE name = ?1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event type %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get event type %q", name)
	}
	return et, nil
}

// EventTypeList pages through the catalog, newest first.
func (s *Store) EventTypeList(ctx context.Context, p *store.ListParams) ([]*store.EventType, error) {
	q, args, err := page(`SELECT `+eventTypeCols+` FROM event_types WHERE true`, nil, "name", p)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanEventType)
	if err != nil {
		return nil, dbErr(err, "list event types")
	}
	return out, nil
}

// IdempotencyGet returns the stored answer for (scope, key).
func (s *Store) IdempotencyGet(ctx context.Context, scope, key string) (*store.IdempotencyRecord, error) {
	var r store.IdempotencyRecord
	var created int64
	err := s.read.QueryRowContext(ctx, `
		SELECT scope, key, request_hash, status, body, created_at
		FROM idempotency_records WHERE scope = ?1 AND key = ?2`,
		scope, key).Scan(&r.Scope, &r.Key, &r.RequestHash, &r.Status, &r.Body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("idempotency key %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get idempotency key %q", key)
	}
	r.CreatedAt = fromUS(created)
	return &r, nil
}

// IdempotencyPut stores an answer; ErrConflict when (scope, key) exists.
func (s *Store) IdempotencyPut(ctx context.Context, r *store.IdempotencyRecord) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO idempotency_records (scope, key, request_hash, status, body, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
		r.Scope, r.Key, r.RequestHash, r.Status, body, us(s.orNow(r.CreatedAt)))
	if isUnique(err) {
		return fmt.Errorf("idempotency key %q already used: %w", r.Key, store.ErrConflict)
	}
	if err != nil {
		return dbErr(err, "put idempotency key %q", r.Key)
	}
	return nil
}

// IdempotencyComplete fills in the answer of the reservation for
// (r.Scope, r.Key).
func (s *Store) IdempotencyComplete(ctx context.Context, r *store.IdempotencyRecord) error {
	if err := r.ValidateComplete(); err != nil {
		return err
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE idempotency_records SET status = ?3, body = ?4
			WHERE scope = ?1 AND key = ?2 AND status = 0`,
			r.Scope, r.Key, r.Status, body)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var status int
		err = tx.QueryRowContext(ctx, `SELECT status FROM idempotency_records WHERE scope = ?1 AND key = ?2`,
			r.Scope, r.Key).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("idempotency key %q not reserved: %w", r.Key, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("idempotency key %q already answered %d: %w", r.Key, status, store.ErrConflict)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return dbErr(err, "complete idempotency key %q", r.Key)
	}
	return err
}

// IdempotencyRelease deletes the reservation for (scope, key) if it is still
// in progress.
func (s *Store) IdempotencyRelease(ctx context.Context, scope, key string) error {
	_, err := s.write.ExecContext(ctx, `
		DELETE FROM idempotency_records WHERE scope = ?1 AND key = ?2 AND status = 0`,
		scope, key)
	if err != nil {
		return dbErr(err, "release idempotency key %q", key)
	}
	return nil
}

// IdempotencyReleaseAbandoned deletes the reservation for (scope, key) if it
// is still in progress and was made before before.
func (s *Store) IdempotencyReleaseAbandoned(ctx context.Context, scope, key string, before time.Time) error {
	_, err := s.write.ExecContext(ctx, `
		DELETE FROM idempotency_records
		WHERE scope = ?1 AND key = ?2 AND status = 0 AND created_at < ?3`,
		scope, key, us(store.Timestamp(before)))
	if err != nil {
		return dbErr(err, "release abandoned idempotency key %q", key)
	}
	return nil
}
