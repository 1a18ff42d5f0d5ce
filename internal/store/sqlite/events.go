package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/internal/store"
)

// eventCols are the columns eventRow scans; queries name the table ev.
const eventCols = `ev.tenant_id, ev.id, ev.type, ev.data, ev.hash, ev.trace_id, ev.source, ev.created_at`

type eventRow struct {
	e       store.Event
	data    []byte
	created int64
}

func (r *eventRow) dest() []any {
	e := &r.e
	return []any{&e.TenantID, &e.ID, &e.Type, &r.data, &e.Hash, &e.TraceID, &e.Source, &r.created}
}

func (r *eventRow) value() *store.Event {
	e := r.e
	e.Data = r.data
	if e.Data == nil {
		e.Data = json.RawMessage{}
	}
	e.CreatedAt = fromUS(r.created)
	return &e
}

func scanEvent(r row) (*store.Event, error) {
	var er eventRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value(), nil
}

// EventCreate stores the event and its deliveries in one transaction; see
// store.Store. The writer's IMMEDIATE transaction serializes concurrent
// posts of one id: the second finds the first's event.
func (s *Store) EventCreate(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	now := s.orNow(p.Now)
	ev := p.NewEvent(now)
	var res *store.EventCreateResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `
			INSERT INTO events (tenant_id, id, type, data, hash, trace_id, source, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
			ON CONFLICT (tenant_id, id) DO NOTHING`,
			ev.TenantID, ev.ID, ev.Type, []byte(ev.Data), ev.Hash, ev.TraceID, ev.Source, us(ev.CreatedAt))
		if isForeignKey(err) {
			return fmt.Errorf("tenant %q: %w", ev.TenantID, store.ErrNotFound)
		}
		if err != nil {
			return dbErr(err, "insert event")
		}
		if n, _ := r.RowsAffected(); n == 0 {
			res, err = existingEvent(ctx, tx, &ev)
			return err
		}

		targets, err := eventTargets(ctx, tx, &ev, p.EndpointIDs)
		if err != nil {
			return err
		}
		dels, due := p.NewDeliveries(&ev, targets, now)
		var owner, leaseUntil any
		if p.LeaseOwner != "" {
			owner, leaseUntil = p.LeaseOwner, us(due)
		}
		for _, d := range dels {
			_, err := tx.ExecContext(ctx, `
				INSERT INTO deliveries (id, tenant_id, event_id, event_type, endpoint_id, status,
					next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)`,
				d.ID, d.TenantID, d.EventID, d.EventType, d.EndpointID, d.Status,
				us(due), owner, leaseUntil, us(now))
			if err != nil {
				return dbErr(err, "insert delivery")
			}
		}
		res = &store.EventCreateResult{Event: &ev, Created: true, Deliveries: dels}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create event %q: %w", ev.ID, err)
	}
	if res.Created && len(res.Deliveries) > 0 {
		s.wake()
	}
	return res, nil
}

// existingEvent answers a re-post of an event id: the stored event and its
// deliveries when the content is the same, ErrConflict when it is not.
func existingEvent(ctx context.Context, tx *sql.Tx, ev *store.Event) (*store.EventCreateResult, error) {
	stored, err := scanEvent(tx.QueryRowContext(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.tenant_id = ?1 AND ev.id = ?2`, ev.TenantID, ev.ID))
	if err != nil {
		return nil, dbErr(err, "read the stored event")
	}
	if stored.Hash != ev.Hash {
		return nil, fmt.Errorf("event id %q was used with different content: %w", ev.ID, store.ErrConflict)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d
		WHERE d.tenant_id = ?1 AND d.event_id = ?2 ORDER BY d.id`, ev.TenantID, ev.ID)
	dels, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, dbErr(err, "read the stored deliveries")
	}
	return &store.EventCreateResult{Event: stored, Created: false, Deliveries: dels}, nil
}

// eventTargets picks the endpoints that get a delivery: exactly the given
// ones (which must be the tenant's), or every enabled endpoint whose filters
// match the type.
func eventTargets(ctx context.Context, tx *sql.Tx, ev *store.Event, endpointIDs []string) ([]string, error) {
	if endpointIDs != nil {
		want := slices.Compact(slices.Sorted(slices.Values(endpointIDs)))
		for _, w := range want {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM endpoints WHERE tenant_id = ?1 AND id = ?2`,
				ev.TenantID, w).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("endpoint %q: %w", w, store.ErrNotFound)
			}
			if err != nil {
				return nil, dbErr(err, "find endpoints")
			}
		}
		return want, nil
	}
	// Filters are matched in Go; see store.DecodeFilters.
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM endpoints WHERE tenant_id = ?1 AND enabled
		ORDER BY id`, ev.TenantID)
	if err != nil {
		return nil, dbErr(err, "find endpoints")
	}
	defer rows.Close()
	var targets []string
	for rows.Next() {
		var epID, filters string
		if err := rows.Scan(&epID, &filters); err != nil {
			return nil, dbErr(err, "find endpoints")
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
		return nil, dbErr(err, "find endpoints")
	}
	return targets, nil
}

// EventGet loads one of the tenant's events.
func (s *Store) EventGet(ctx context.Context, tenantID, eventID string) (*store.Event, error) {
	e, err := scanEvent(s.read.QueryRowContext(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.tenant_id = ?1 AND ev.id = ?2`, tenantID, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event %q: %w", eventID, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get event %q", eventID)
	}
	return e, nil
}

// EventList pages through the tenant's events, newest first, optionally of
// one type.
func (s *Store) EventList(ctx context.Context, tenantID string, p *store.EventListParams) ([]*store.Event, error) {
	q := `SELECT ` + eventCols + ` FROM events ev WHERE tenant_id = ?1`
	args := []any{tenantID}
	if p.Type != "" {
		args = append(args, p.Type)
		q += fmt.Sprintf(" AND type = ?%d", len(args))
	}
	q, args, err := page(q, args, "id", &p.ListParams)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanEvent)
	if err != nil {
		return nil, dbErr(err, "list events")
	}
	return out, nil
}
