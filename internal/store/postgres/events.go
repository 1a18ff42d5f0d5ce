package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// eventCols are the columns eventRow scans; queries name the table ev.
const eventCols = `ev.tenant_id, ev.id, ev.type, ev.data, ev.hash, ev.trace_id, ev.source, ev.created_at`

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
	e.CreatedAt = store.Timestamp(e.CreatedAt)
	return &e
}

func scanEvent(row pgx.Row) (*store.Event, error) {
	var r eventRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.value(), nil
}

// EventCreate stores the event and its deliveries in one transaction; see
// store.Store.
func (s *Store) EventCreate(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	now := s.orNow(p.Now)
	ev := p.NewEvent(now)
	var res *store.EventCreateResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// ON CONFLICT DO NOTHING rather than a unique violation: a concurrent
		// post of the same id makes this insert wait for that transaction
		// and then do nothing, and the read below (a new statement, so a new
		// snapshot) sees the committed event.
		tag, err := tx.Exec(ctx, `
			INSERT INTO events (tenant_id, id, type, data, hash, trace_id, source, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, id) DO NOTHING`,
			ev.TenantID, ev.ID, ev.Type, []byte(ev.Data), ev.Hash, ev.TraceID, ev.Source, ev.CreatedAt)
		if pgCode(err) == codeForeignKeyViolation {
			return fmt.Errorf("tenant %q: %w", ev.TenantID, store.ErrNotFound)
		}
		if err != nil {
			return dbErr(err, "insert event")
		}
		if tag.RowsAffected() == 0 {
			res, err = existingEvent(ctx, tx, &ev)
			return err
		}

		targets, err := eventTargets(ctx, tx, &ev, p.EndpointIDs)
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
			FROM unnest($1::text[], $2::text[]) AS n (id, endpoint_id)`,
			ids, targets, ev.TenantID, ev.ID, ev.Type, dels[0].Status, due, nullString(p.LeaseOwner), leaseUntil, now)
		if err != nil {
			return dbErr(err, "insert deliveries")
		}
		return notify(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("create event %q: %w", ev.ID, err)
	}
	return res, nil
}

// existingEvent answers a re-post of an event id: the stored event and its
// deliveries when the content is the same, ErrConflict when it is not.
func existingEvent(ctx context.Context, tx pgx.Tx, ev *store.Event) (*store.EventCreateResult, error) {
	stored, err := scanEvent(tx.QueryRow(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, ev.TenantID, ev.ID))
	if err != nil {
		return nil, dbErr(err, "read the stored event")
	}
	if stored.Hash != ev.Hash {
		return nil, fmt.Errorf("event id %q was used with different content: %w", ev.ID, store.ErrConflict)
	}
	rows, err := tx.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries d
		WHERE d.tenant_id = $1 AND d.event_id = $2 ORDER BY d.id`, ev.TenantID, ev.ID)
	dels, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, dbErr(err, "read the stored deliveries")
	}
	return &store.EventCreateResult{Event: stored, Created: false, Deliveries: dels}, nil
}

// eventTargets picks the endpoints that get a delivery: exactly the given
// ones (which must be the tenant's), or every enabled endpoint whose filters
// match the type. The rows are key-share locked so a concurrent
// EndpointDelete waits for this event instead of failing its insert.
func eventTargets(ctx context.Context, tx pgx.Tx, ev *store.Event, endpointIDs []string) ([]string, error) {
	if endpointIDs != nil {
		want := slices.Compact(slices.Sorted(slices.Values(endpointIDs)))
		rows, err := tx.Query(ctx, `SELECT id FROM endpoints WHERE tenant_id = $1 AND id = ANY($2)
			ORDER BY id FOR KEY SHARE`, ev.TenantID, want)
		if err != nil {
			return nil, dbErr(err, "find endpoints")
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, dbErr(err, "find endpoints")
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
		ORDER BY id FOR KEY SHARE`, ev.TenantID)
	if err != nil {
		return nil, dbErr(err, "find endpoints")
	}
	var targets []string
	var epID, filters string
	_, err = pgx.ForEachRow(rows, []any{&epID, &filters}, func() error {
		f, err := store.DecodeFilters(epID, filters)
		if err != nil {
			return err
		}
		if store.MatchEventType(f, ev.Type) {
			targets = append(targets, epID)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "find endpoints")
	}
	return targets, nil
}

// EventGet loads one of the tenant's events.
func (s *Store) EventGet(ctx context.Context, tenantID, eventID string) (*store.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, tenantID, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
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
	q := `SELECT ` + eventCols + ` FROM events ev WHERE tenant_id = $1`
	args := []any{tenantID}
	if p.Type != "" {
		args = append(args, p.Type)
		q += fmt.Sprintf(" AND type = $%d", len(args))
	}
	q, args, err := page(q, args, "id", &p.ListParams)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, scanEvent)
	if err != nil {
		return nil, dbErr(err, "list events")
	}
	return out, nil
}
