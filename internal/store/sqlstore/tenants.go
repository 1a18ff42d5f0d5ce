package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

const tenantCols = `id, name, metadata, portal_origins, created_at, updated_at`

func scanTenant(r Row) (*store.Tenant, error) {
	var t store.Tenant
	var meta, origins string
	if err := r.Scan(&t.ID, &t.Name, &meta, &origins, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.Metadata = json.RawMessage(meta)
	if err := json.Unmarshal([]byte(origins), &t.PortalOrigins); err != nil {
		return nil, fmt.Errorf("tenant %q: portal_origins: %w", t.ID, err)
	}
	if len(t.PortalOrigins) == 0 {
		t.PortalOrigins = nil
	}
	t.CreatedAt, t.UpdatedAt = store.Timestamp(t.CreatedAt), store.Timestamp(t.UpdatedAt)
	return &t, nil
}

// TenantCreate stores a new tenant; ErrConflict if the id is taken.
func (s *Store) TenantCreate(ctx context.Context, t *store.Tenant) (*store.Tenant, error) {
	out, err := scanTenant(s.write.QueryRow(ctx, `
		INSERT INTO tenants (id, name, metadata, portal_origins, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		RETURNING `+tenantCols,
		t.ID, t.Name, store.JSONObject(t.Metadata), originsText(t.PortalOrigins), s.orNow(t.CreatedAt)))
	if s.is(err, KindUnique) {
		return nil, fmt.Errorf("tenant %q already exists: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return nil, s.Err(err, "create tenant %q", t.ID)
	}
	return out, nil
}

// usersTenants is the condition on tenants that every Tenant method
// reads and writes under: the operator's tenant is none of the users'.
const usersTenants = `id <> '` + store.OperatorTenant + `'`

// TenantGet loads one tenant.
func (s *Store) TenantGet(ctx context.Context, tenantID string) (*store.Tenant, error) {
	return getRow(ctx, s, s.read, scanTenant, fmt.Sprintf("tenant %q", tenantID),
		`SELECT `+tenantCols+` FROM tenants WHERE id = $1 AND `+usersTenants, tenantID)
}

// TenantList pages through tenants, newest first.
func (s *Store) TenantList(ctx context.Context, p *store.ListParams) ([]*store.Tenant, error) {
	return pageRows(ctx, s, scanTenant, "tenants", p, "id", `SELECT `+tenantCols+` FROM tenants WHERE `+usersTenants)
}

// TenantUpdate writes the name and metadata of t.
func (s *Store) TenantUpdate(ctx context.Context, t *store.Tenant) (*store.Tenant, error) {
	out, err := scanTenant(s.write.QueryRow(ctx, `
		UPDATE tenants SET name = $2, metadata = $3, portal_origins = $4, updated_at = $5
		WHERE id = $1 AND `+usersTenants+`
		RETURNING `+tenantCols,
		t.ID, t.Name, store.JSONObject(t.Metadata), originsText(t.PortalOrigins), s.orNow(t.UpdatedAt)))
	if err != nil {
		return nil, s.Err(notFound(err, "tenant %q", t.ID), "update tenant %q", t.ID)
	}
	return out, nil
}

// originsText is a tenant's portal origins as their column holds them:
// a JSON array, [] for none.
func originsText(origins []string) string {
	if len(origins) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(origins) // a []string always marshals
	return string(b)
}

// SettingInit stores value under name unless the setting exists, and
// returns the stored value. The insert does nothing on a name that exists
// (on PostgreSQL it waits for a concurrent insert of it to commit), so the
// read after it sees the value that won.
func (s *Store) SettingInit(ctx context.Context, name, value string) (string, error) {
	if _, err := s.write.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", s.Err(err, "init setting %q", name)
	}
	var v string
	if err := s.write.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
		return "", s.Err(notFound(err, "setting %q", name), "read setting %q", name)
	}
	return v, nil
}

// TenantDelete deletes the tenant and its keys, endpoints, events,
// deliveries, attempts, endpoint health and idempotency records: the
// attempts, deliveries, events and endpoint health by statements of their
// own, children first (on PostgreSQL they have no foreign key to cascade
// by, migration 15), the rest by the tenant's cascade.
func (s *Store) TenantDelete(ctx context.Context, tenantID string) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		// The tenant's row, and then the claims' turn, in the order an
		// ingest batch takes them (its tenants, then the claim lock for
		// its hand-off): a claim that gives a rate-limited endpoint its
		// turn updates the endpoint's row while it holds deliveries it
		// just leased, which the deletes below would wait for while
		// holding the endpoint, and PostgreSQL took a second to notice.
		// With the claims' turn taken, no claim is under way.
		if _, err := tx.Exec(ctx, `SELECT id FROM tenants WHERE id = $1`+s.db.LockClause(LockUpdate), tenantID); err != nil {
			return err
		}
		if err := s.db.LockClaims(ctx, tx); err != nil {
			return err
		}
		// Idempotency records of the tenant go by cascade (tenant_id).
		// Those its own keys made before that column existed are found by
		// their scope, the key's id, before the keys go.
		if _, err := tx.Exec(ctx, `
			DELETE FROM idempotency_records
			WHERE scope IN (SELECT id FROM api_keys WHERE tenant_id = $1)`, tenantID); err != nil {
			return err
		}
		// The tenant's leased deliveries first, in key order: a batch of
		// attempt records locks its deliveries and then their endpoints,
		// and so do the deletes below (the endpoints last, by the tenant's
		// cascade). Taken in that order both ways, a batch that holds a
		// delivery of the tenant finishes before the delete goes on,
		// instead of the two waiting for each other until the database
		// notices, a second later (PostgreSQL's deadlock_timeout).
		if _, err := tx.Exec(ctx, `SELECT id FROM deliveries WHERE tenant_id = $1 AND status = 'delivering' ORDER BY id`+
			s.db.LockClause(LockUpdate), tenantID); err != nil {
			return err
		}
		for _, del := range []string{
			`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE tenant_id = $1)`,
			`DELETE FROM deliveries WHERE tenant_id = $1`,
			`DELETE FROM events WHERE tenant_id = $1`,
			`DELETE FROM endpoint_health WHERE endpoint_id IN (SELECT id FROM endpoints WHERE tenant_id = $1)`,
		} {
			if _, err := tx.Exec(ctx, del, tenantID); err != nil {
				return err
			}
		}
		n, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1 AND `+usersTenants, tenantID)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("tenant %q: %w", tenantID, store.ErrNotFound)
		}
		return nil
	})
	return s.Err(err, "delete tenant %q", tenantID)
}

const keyCols = `id, coalesce(tenant_id, ''), name, hash, created_at, last_used_at`

func scanKey(r Row) (*store.Key, error) {
	var k store.Key
	var lastUsed *time.Time
	if err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Hash, &k.CreatedAt, &lastUsed); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt = store.Timestamp(k.CreatedAt), tsPtr(lastUsed)
	return &k, nil
}

// KeyCreate stores a key by its hash; TenantID "" makes an admin key.
func (s *Store) KeyCreate(ctx context.Context, k *store.Key) (*store.Key, error) {
	created := s.orNow(k.CreatedAt)
	keyID := k.ID
	if keyID == "" {
		keyID = id.NewAt(id.Key, created)
	}
	out, err := scanKey(s.write.QueryRow(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, hash, created_at)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING `+keyCols,
		keyID, nullString(k.TenantID), k.Name, k.Hash, created))
	switch {
	case s.is(err, KindUnique):
		return nil, fmt.Errorf("key %q or its hash already exists: %w", keyID, store.ErrConflict)
	case s.is(err, KindForeignKey):
		return nil, fmt.Errorf("tenant %q: %w", k.TenantID, store.ErrNotFound)
	case err != nil:
		return nil, s.Err(err, "create key")
	}
	return out, nil
}

// KeyGetByHash loads the key with this hash.
func (s *Store) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	return getRow(ctx, s, s.read, scanKey, "key", `SELECT `+keyCols+` FROM api_keys WHERE hash = $1`, hash)
}

// KeyAdminExists reports whether any admin key is stored.
func (s *Store) KeyAdminExists(ctx context.Context) (bool, error) {
	var ok bool
	err := s.read.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant_id IS NULL)`).Scan(&ok)
	if err != nil {
		return false, s.Err(err, "look for an admin key")
	}
	return ok, nil
}

// keyOwner is the condition that a key is the tenant's ($n), or an
// admin key when tenantID is "" (and $n unused).
func keyOwner(tenantID string, n int) string {
	if tenantID == "" {
		return "tenant_id IS NULL"
	}
	return fmt.Sprintf("tenant_id = $%d", n)
}

// KeyList pages through a tenant's keys, or the admin keys, newest first,
// on the index api_keys_list.
func (s *Store) KeyList(ctx context.Context, tenantID string, p *store.ListParams) ([]*store.Key, error) {
	var args []any
	if tenantID != "" {
		args = append(args, tenantID)
	}
	return pageRows(ctx, s, scanKey, "keys", p, "id", `SELECT `+keyCols+` FROM api_keys WHERE `+keyOwner(tenantID, 1), args...)
}

// KeyDelete deletes a tenant's key, or an admin key but the last, with
// the idempotency records it made.
func (s *Store) KeyDelete(ctx context.Context, tenantID, keyID string) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		if tenantID == "" {
			// Lock every admin key, in one order, before counting them: of
			// two deletes racing for the last two keys, the second waits
			// for the first, then finds one key left and is refused.
			// (SQLite has no row locks; its single writer serializes the
			// transactions instead.)
			rows, err := tx.Query(ctx, `SELECT id FROM api_keys WHERE tenant_id IS NULL ORDER BY id`+s.db.LockClause(LockUpdate))
			admins, err := Collect(rows, err, func(r Row) (string, error) {
				var v string
				return v, r.Scan(&v)
			})
			if err != nil {
				return err
			}
			if !slices.Contains(admins, keyID) {
				return fmt.Errorf("admin key %q: %w", keyID, store.ErrNotFound)
			}
			if len(admins) == 1 {
				return fmt.Errorf("key %q is the last admin key; create another first: %w", keyID, store.ErrConflict)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_records WHERE scope = $1`, keyID); err != nil {
			return err
		}
		args := []any{keyID}
		if tenantID != "" {
			args = append(args, tenantID)
		}
		n, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE id = $1 AND `+keyOwner(tenantID, 2), args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("key %q: %w", keyID, store.ErrNotFound)
		}
		return nil
	})
	return s.Err(err, "delete key %q", keyID)
}

// KeyTouch sets a key's last use to at unless it is already after
// ifBefore.
func (s *Store) KeyTouch(ctx context.Context, keyID string, at, ifBefore time.Time) error {
	_, err := s.write.Exec(ctx, `
		UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		keyID, store.Timestamp(at), store.Timestamp(ifBefore))
	return s.Err(err, "touch key %q", keyID)
}

const formatCols = `name, definition, created_at, updated_at`

func scanFormat(r Row) (*store.Format, error) {
	var f store.Format
	var def string
	if err := r.Scan(&f.Name, &def, &f.CreatedAt, &f.UpdatedAt); err != nil {
		return nil, err
	}
	f.Definition = json.RawMessage(def)
	f.CreatedAt, f.UpdatedAt = store.Timestamp(f.CreatedAt), store.Timestamp(f.UpdatedAt)
	return &f, nil
}

// FormatPut creates or replaces a format and reports whether it was new.
func (s *Store) FormatPut(ctx context.Context, f *store.Format) (created bool, err error) {
	at := s.orNow(f.UpdatedAt)
	err = s.db.Tx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `
			INSERT INTO formats (name, definition, created_at, updated_at) VALUES ($1, $2, $3, $3)
			ON CONFLICT (name) DO NOTHING`, f.Name, string(f.Definition), at)
		if err != nil {
			return err
		}
		if n == 1 {
			created = true
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE formats SET definition = $2, updated_at = $3 WHERE name = $1`,
			f.Name, string(f.Definition), at)
		return err
	})
	if err != nil {
		return false, s.Err(err, "put format %q", f.Name)
	}
	return created, nil
}

// FormatGet loads one format.
func (s *Store) FormatGet(ctx context.Context, name string) (*store.Format, error) {
	return getRow(ctx, s, s.read, scanFormat, fmt.Sprintf("format %q", name),
		`SELECT `+formatCols+` FROM formats WHERE name = $1`, name)
}

// FormatList returns every stored format by name.
func (s *Store) FormatList(ctx context.Context) ([]*store.Format, error) {
	return listRows(ctx, s, scanFormat, "formats", `SELECT `+formatCols+` FROM formats ORDER BY name`)
}

// FormatDelete deletes a format no endpoint uses.
func (s *Store) FormatDelete(ctx context.Context, name string) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		// Lock the format first: EndpointCreate and EndpointUpdate share-lock
		// the format they name, so no endpoint can start using it between
		// the check below and the delete.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM formats WHERE name = $1`+s.db.LockClause(LockUpdate), name).Scan(&one)
		if err != nil {
			return notFound(err, "format %q", name)
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.format = $1 AND `+EndpointLive+`)`, name).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("format %q is used by an endpoint: %w", name, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, `DELETE FROM formats WHERE name = $1`, name)
		return err
	})
	return s.Err(err, "delete format %q", name)
}

const eventTypeCols = `name, description, schema, archived, created_at, updated_at`

func scanEventType(r Row) (*store.EventType, error) {
	var et store.EventType
	var schema *string
	if err := r.Scan(&et.Name, &et.Description, &schema, &et.Archived, &et.CreatedAt, &et.UpdatedAt); err != nil {
		return nil, err
	}
	if schema != nil {
		et.Schema = json.RawMessage(*schema)
	}
	et.CreatedAt, et.UpdatedAt = store.Timestamp(et.CreatedAt), store.Timestamp(et.UpdatedAt)
	return &et, nil
}

// EventTypePut creates or replaces a catalog entry, keeping its creation
// time.
func (s *Store) EventTypePut(ctx context.Context, et *store.EventType) (*store.EventType, error) {
	var schema *string
	if et.Schema != nil {
		v := string(et.Schema)
		schema = &v
	}
	out, err := scanEventType(s.write.QueryRow(ctx, `
		INSERT INTO event_types (name, description, schema, archived, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (name) DO UPDATE SET
			description = excluded.description,
			schema = excluded.schema,
			archived = excluded.archived,
			updated_at = excluded.updated_at
		RETURNING `+eventTypeCols,
		et.Name, et.Description, schema, et.Archived, s.orNow(et.UpdatedAt)))
	if err != nil {
		return nil, s.Err(err, "put event type %q", et.Name)
	}
	return out, nil
}

// EventTypeUpdate changes the fields p sets of a catalog entry, creating
// it first when p.Create and it is absent; see store.Store. The insert
// does nothing on a name that exists (on PostgreSQL it waits for a
// concurrent insert of the name to commit), and then the update, a
// statement of its own, sees that row.
func (s *Store) EventTypeUpdate(ctx context.Context, p *store.EventTypeUpdateParams) (*store.EventType, bool, error) {
	now := s.orNow(p.Now)
	var out *store.EventType
	var created bool
	err := s.db.Tx(ctx, func(tx Querier) error {
		if p.Create {
			et := store.EventType{Name: p.Name}
			if p.Description != nil {
				et.Description = *p.Description
			}
			if p.Schema != nil {
				et.Schema = *p.Schema
			}
			if p.Archived != nil {
				et.Archived = *p.Archived
			}
			v, err := scanEventType(tx.QueryRow(ctx, `
				INSERT INTO event_types (name, description, schema, archived, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5)
				ON CONFLICT (name) DO NOTHING
				RETURNING `+eventTypeCols,
				et.Name, et.Description, schemaText(et.Schema), et.Archived, now))
			switch {
			case err == nil:
				out, created = v, true
				return nil
			case !errors.Is(err, ErrNoRows):
				return err
			}
		}
		set := "updated_at = $2"
		args := []any{p.Name, now}
		if p.Description != nil {
			args = append(args, *p.Description)
			set += fmt.Sprintf(", description = $%d", len(args))
		}
		if p.Schema != nil {
			args = append(args, schemaText(*p.Schema))
			set += fmt.Sprintf(", schema = $%d", len(args))
		}
		if p.Archived != nil {
			args = append(args, *p.Archived)
			set += fmt.Sprintf(", archived = $%d", len(args))
		}
		v, err := scanEventType(tx.QueryRow(ctx, `UPDATE event_types SET `+set+` WHERE name = $1 RETURNING `+eventTypeCols, args...))
		if err != nil {
			return notFound(err, "event type %q", p.Name)
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, false, s.Err(err, "update event type %q", p.Name)
	}
	return out, created, nil
}

// schemaText is a schema as its column holds it: NULL for none.
func schemaText(schema json.RawMessage) *string {
	if len(schema) == 0 {
		return nil
	}
	v := string(schema)
	return &v
}

// EventTypeDelete removes a catalog entry.
func (s *Store) EventTypeDelete(ctx context.Context, name string) error {
	n, err := s.write.Exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	switch {
	case err != nil:
		return s.Err(err, "delete event type %q", name)
	case n == 0:
		return fmt.Errorf("delete event type %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// EventTypeGet loads one catalog entry.
func (s *Store) EventTypeGet(ctx context.Context, name string) (*store.EventType, error) {
	return getRow(ctx, s, s.read, scanEventType, fmt.Sprintf("event type %q", name),
		`SELECT `+eventTypeCols+` FROM event_types WHERE name = $1`, name)
}

// EventTypeList pages through the catalog, newest first.
func (s *Store) EventTypeList(ctx context.Context, p *store.ListParams) ([]*store.EventType, error) {
	return pageRows(ctx, s, scanEventType, "event types", p, "name", `SELECT `+eventTypeCols+` FROM event_types WHERE true`)
}

const idempotencyCols = `scope, coalesce(tenant_id, ''), key, request_hash, status, body, created_at`

// IdempotencyGet returns the stored answer for (scope, key).
func (s *Store) IdempotencyGet(ctx context.Context, scope, key string) (*store.IdempotencyRecord, error) {
	var r store.IdempotencyRecord
	err := s.read.QueryRow(ctx, `SELECT `+idempotencyCols+` FROM idempotency_records WHERE scope = $1 AND key = $2`,
		scope, key).Scan(&r.Scope, &r.TenantID, &r.Key, &r.RequestHash, &r.Status, &r.Body, &r.CreatedAt)
	if err != nil {
		return nil, s.Err(notFound(err, "idempotency key %q", key), "get idempotency key %q", key)
	}
	r.CreatedAt = store.Timestamp(r.CreatedAt)
	return &r, nil
}

// IdempotencyPut stores an answer; ErrConflict when (scope, key) exists.
func (s *Store) IdempotencyPut(ctx context.Context, r *store.IdempotencyRecord) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	_, err := s.write.Exec(ctx, `
		INSERT INTO idempotency_records (scope, tenant_id, key, request_hash, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.Scope, nullString(r.TenantID), r.Key, r.RequestHash, r.Status, body, s.orNow(r.CreatedAt))
	switch {
	case s.is(err, KindUnique):
		return fmt.Errorf("idempotency key %q already used: %w", r.Key, store.ErrConflict)
	case s.is(err, KindForeignKey):
		return fmt.Errorf("tenant %q: %w", r.TenantID, store.ErrNotFound)
	}
	return s.Err(err, "put idempotency key %q", r.Key)
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
	err := s.db.Tx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `
			UPDATE idempotency_records SET status = $3, body = $4, tenant_id = coalesce($5, tenant_id)
			WHERE scope = $1 AND key = $2 AND status = 0`,
			r.Scope, r.Key, r.Status, body, nullString(r.TenantID))
		if s.is(err, KindForeignKey) {
			return fmt.Errorf("tenant %q: %w", r.TenantID, store.ErrNotFound)
		}
		if err != nil || n == 1 {
			return err
		}
		var status int
		err = tx.QueryRow(ctx, `SELECT status FROM idempotency_records WHERE scope = $1 AND key = $2`,
			r.Scope, r.Key).Scan(&status)
		switch {
		case err != nil && err != ErrNoRows:
			return err
		case err == ErrNoRows, status == 0:
			// Status 0 and not updated: released, and reserved again by
			// another request, while the update waited.
			return fmt.Errorf("idempotency key %q not reserved: %w", r.Key, store.ErrNotFound)
		}
		return fmt.Errorf("idempotency key %q already answered %d: %w", r.Key, status, store.ErrConflict)
	})
	return s.Err(err, "complete idempotency key %q", r.Key)
}

// IdempotencyRelease deletes the reservation for (scope, key) if it is still
// in progress.
func (s *Store) IdempotencyRelease(ctx context.Context, scope, key string) error {
	_, err := s.write.Exec(ctx, `
		DELETE FROM idempotency_records WHERE scope = $1 AND key = $2 AND status = 0`,
		scope, key)
	return s.Err(err, "release idempotency key %q", key)
}

// IdempotencyReleaseAbandoned deletes the reservation for (scope, key) if it
// is still in progress and was made before before.
func (s *Store) IdempotencyReleaseAbandoned(ctx context.Context, scope, key string, before time.Time) error {
	_, err := s.write.Exec(ctx, `
		DELETE FROM idempotency_records
		WHERE scope = $1 AND key = $2 AND status = 0 AND created_at < $3`,
		scope, key, store.Timestamp(before))
	return s.Err(err, "release abandoned idempotency key %q", key)
}

// IdempotencyReleaseExpired deletes the record for (scope, key), answered or
// not, if it was made before before.
func (s *Store) IdempotencyReleaseExpired(ctx context.Context, scope, key string, before time.Time) error {
	_, err := s.write.Exec(ctx, `
		DELETE FROM idempotency_records
		WHERE scope = $1 AND key = $2 AND created_at < $3`,
		scope, key, store.Timestamp(before))
	return s.Err(err, "release expired idempotency key %q", key)
}

// IdempotencyDeleteExpired deletes up to limit records made before before.
// A batch at a time keeps each transaction short, however many expired
// while nobody swept.
func (s *Store) IdempotencyDeleteExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.write.Exec(ctx, `
		DELETE FROM idempotency_records
		WHERE (scope, key) IN (
			SELECT scope, key FROM idempotency_records WHERE created_at < $1 LIMIT $2)`,
		store.Timestamp(before), limit)
	if err != nil {
		return 0, s.Err(err, "delete expired idempotency records")
	}
	return int(n), nil
}
