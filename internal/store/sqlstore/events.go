package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// EventCols are the columns eventRow scans; queries name the table ev.
const EventCols = `ev.tenant_id, ev.id, ev.type, ev.data, ev.hash, ev.trace_id, ev.source, ev.created_at`

type eventRow struct {
	e    store.Event
	data []byte
}

func (r *eventRow) dest() []any {
	e := &r.e
	return []any{&e.TenantID, &e.ID, &e.Type, &r.data, &e.Hash, &e.TraceID, &e.Source, &e.CreatedAt}
}

func (r *eventRow) value() *store.Event {
	e := r.e
	e.Data = r.data
	if e.Data == nil {
		e.Data = json.RawMessage{}
	}
	e.CreatedAt = store.Timestamp(e.CreatedAt)
	return &e
}

func scanEvent(r Row) (*store.Event, error) {
	var er eventRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value(), nil
}

// EventCreate stores the event and its deliveries in one transaction; see
// store.Store.
func (s *Store) EventCreate(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	now := s.orNow(p.Now)
	ev := p.NewEvent(now)
	var res *store.EventCreateResult
	err := s.db.Tx(ctx, func(tx Querier) error {
		// ON CONFLICT DO NOTHING rather than a unique violation: on
		// PostgreSQL a concurrent post of the same id makes this insert wait
		// for that transaction and then do nothing, and the read below (a
		// new statement, so a new snapshot) sees the committed event; on
		// SQLite the single writer serializes the two posts outright.
		n, err := tx.Exec(ctx, `
			INSERT INTO events (tenant_id, id, type, data, hash, trace_id, source, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, id) DO NOTHING`,
			ev.TenantID, ev.ID, ev.Type, []byte(ev.Data), ev.Hash, ev.TraceID, ev.Source, ev.CreatedAt)
		if s.is(err, KindForeignKey) {
			return fmt.Errorf("tenant %q: %w", ev.TenantID, store.ErrNotFound)
		}
		if err != nil {
			return s.Err(err, "insert event")
		}
		if n == 0 {
			res, err = s.existingEvent(ctx, tx, &ev)
			return err
		}

		targets, err := s.eventTargets(ctx, tx, &ev, p.EndpointIDs)
		if err != nil {
			return err
		}
		dels, due := p.NewDeliveries(&ev, targets, now)
		res = &store.EventCreateResult{Event: &ev, Created: true, Deliveries: dels}
		if len(dels) == 0 {
			return nil
		}
		// One statement for all: the rows differ only in id and endpoint.
		ids := make([]string, len(dels))
		for i, d := range dels {
			ids[i] = d.ID
		}
		var leaseUntil *time.Time
		if p.LeaseOwner != "" {
			leaseUntil = &due
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO deliveries (id, tenant_id, event_id, event_type, endpoint_id, status,
				next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
			SELECT n.id, $3, $4, $5, n.endpoint_id, $6, $7, $8, $9, $10, $10
			FROM `+s.db.Zip(1, 2),
			ids, targets, ev.TenantID, ev.ID, ev.Type, dels[0].Status, due, nullString(p.LeaseOwner), leaseUntil, now)
		if err != nil {
			return s.Err(err, "insert deliveries")
		}
		return s.db.Notify(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("create event %q: %w", ev.ID, err)
	}
	return res, nil
}

// existingEvent answers a re-post of an event id: the stored event and its
// deliveries when the content is the same, ErrConflict when it is not.
func (s *Store) existingEvent(ctx context.Context, tx Querier, ev *store.Event) (*store.EventCreateResult, error) {
	stored, err := scanEvent(tx.QueryRow(ctx,
		`SELECT `+EventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, ev.TenantID, ev.ID))
	if err != nil {
		return nil, s.Err(err, "read the stored event")
	}
	if stored.Hash != ev.Hash {
		return nil, fmt.Errorf("event id %q was used with different content: %w", ev.ID, store.ErrConflict)
	}
	rows, err := tx.Query(ctx, `SELECT `+DeliveryCols+` FROM deliveries d
		WHERE d.tenant_id = $1 AND d.event_id = $2 ORDER BY d.id`, ev.TenantID, ev.ID)
	dels, err := Collect(rows, err, scanDelivery)
	if err != nil {
		return nil, s.Err(err, "read the stored deliveries")
	}
	return &store.EventCreateResult{Event: stored, Created: false, Deliveries: dels}, nil
}

// eventTargets picks the endpoints that get a delivery: exactly the given
// ones (which must be the tenant's), or every enabled endpoint whose filters
// match the type. On PostgreSQL the rows are key-share locked so a
// concurrent EndpointDelete waits for this event instead of failing its
// insert.
func (s *Store) eventTargets(ctx context.Context, tx Querier, ev *store.Event, endpointIDs []string) ([]string, error) {
	lock := s.db.LockClause(LockKeyShare)
	if endpointIDs != nil {
		want := slices.Compact(slices.Sorted(slices.Values(endpointIDs)))
		rows, err := tx.Query(ctx, `SELECT id FROM endpoints WHERE tenant_id = $1 AND `+s.db.InList("id", 2)+`
			ORDER BY id`+lock, ev.TenantID, want)
		found, err := Collect(rows, err, func(r Row) (string, error) {
			var v string
			return v, r.Scan(&v)
		})
		if err != nil {
			return nil, s.Err(err, "find endpoints")
		}
		for _, w := range want {
			if _, ok := slices.BinarySearch(found, w); !ok {
				return nil, fmt.Errorf("endpoint %q: %w", w, store.ErrNotFound)
			}
		}
		return found, nil
	}
	// Filters are matched in Go; see store.DecodeFilters.
	rows, err := tx.Query(ctx, `SELECT id, events FROM endpoints WHERE tenant_id = $1 AND enabled
		ORDER BY id`+lock, ev.TenantID)
	if err != nil {
		return nil, s.Err(err, "find endpoints")
	}
	defer rows.Close()
	var targets []string
	for rows.Next() {
		var epID, filters string
		if err := rows.Scan(&epID, &filters); err != nil {
			return nil, s.Err(err, "find endpoints")
		}
		f, err := store.DecodeFilters(epID, filters)
		if err != nil {
			return nil, err
		}
		if store.MatchEventType(f, ev.Type) {
			targets = append(targets, epID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.Err(err, "find endpoints")
	}
	return targets, nil
}

// EventGet loads one of the tenant's events.
func (s *Store) EventGet(ctx context.Context, tenantID, eventID string) (*store.Event, error) {
	return getRow(ctx, s, s.read, scanEvent, fmt.Sprintf("event %q", eventID),
		`SELECT `+EventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, tenantID, eventID)
}

// EventList pages through the tenant's events, newest first, optionally of
// one type.
func (s *Store) EventList(ctx context.Context, tenantID string, p *store.EventListParams) ([]*store.Event, error) {
	q := `SELECT ` + EventCols + ` FROM events ev WHERE tenant_id = $1`
	args := []any{tenantID}
	if p.Type != "" {
		args = append(args, p.Type)
		q += fmt.Sprintf(" AND type = $%d", len(args))
	}
	return pageRows(ctx, s, scanEvent, "events", &p.ListParams, "id", q, args...)
}
