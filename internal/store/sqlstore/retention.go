package sqlstore

import (
	"context"
	"errors"

	"github.com/heraldhq/herald/internal/store"
)

// eventKeyCols are the columns of a Table of events by key.
var eventKeyCols = []Col{{"tenant_id", ColText}, {"id", ColText}}

// EventDeleteFinished is one batch of retention; see store.Store. It is
// one transaction of a few set-based statements: the batch's events, one
// tenant's, read newest first on the tenant's list index (events_list)
// from where the last batch stopped; their deliveries, locked in id order
// (the order a replay's batch locks them in, so the two never deadlock);
// and the deletes of the attempts, deliveries and events of those that are
// finished. Locking the deliveries first is what keeps a retry that
// commits meanwhile from being deleted under it: the retry either
// committed before (its delivery is pending, its event stays) or waits
// and finds the delivery gone. A tenant whose walk has ended is followed
// by the next in id order, looked up at the start of the next batch.
func (s *Store) EventDeleteFinished(ctx context.Context, p *store.EventDeleteParams) (*store.EventDeleteResult, error) {
	if p.Limit <= 0 {
		return nil, errors.New("delete finished events: limit must be set")
	}
	before := store.Timestamp(p.Before)
	pos := p.After
	res := &store.EventDeleteResult{}
	err := s.db.Tx(ctx, func(tx Querier) error {
		*res = store.EventDeleteResult{}
		if pos.TenantID == "" || pos.TenantDone {
			err := tx.QueryRow(ctx, `SELECT id FROM tenants WHERE id > $1 ORDER BY id LIMIT 1`, pos.TenantID).Scan(&pos.TenantID)
			if errors.Is(err, ErrNoRows) {
				res.Done, res.Next = true, pos
				return nil
			}
			if err != nil {
				return err
			}
			pos = store.EventPosition{TenantID: pos.TenantID}
		}
		from, fromID := before, ""
		if !pos.CreatedAt.IsZero() {
			from, fromID = store.Timestamp(pos.CreatedAt), pos.ID
		}
		// (created_at, id) < (before, '') is created_at < before: no id
		// is empty.
		rows, err := tx.Query(ctx, `
			SELECT created_at, tenant_id, id FROM events
			WHERE tenant_id = $1 AND created_at < $2 AND (created_at, id) < ($3, $4)
			ORDER BY created_at DESC, id DESC
			LIMIT $5`, pos.TenantID, before, from, fromID, p.Limit)
		evs, err := Collect(rows, err, func(r Row) (store.EventPosition, error) {
			var v store.EventPosition
			return v, r.Scan(&v.CreatedAt, &v.TenantID, &v.ID)
		})
		if err != nil {
			return err
		}
		res.Scanned = len(evs)
		res.Next = pos
		if len(evs) > 0 {
			last := evs[len(evs)-1]
			res.Next.CreatedAt, res.Next.ID = store.Timestamp(last.CreatedAt), last.ID
		}
		res.Next.TenantDone = len(evs) < p.Limit
		if len(evs) == 0 {
			return nil
		}
		keys := make(Table, len(evs))
		for i, ev := range evs {
			keys[i] = []any{ev.TenantID, ev.ID}
		}
		rows, err = tx.Query(ctx, `
			SELECT d.id, d.tenant_id, d.event_id, d.status
			FROM `+s.db.Rows(1, "k", eventKeyCols...)+`
			JOIN deliveries d ON d.tenant_id = k.tenant_id AND d.event_id = k.id
			ORDER BY d.id`+s.db.LockClause(LockUpdate), keys)
		type dl struct{ id, tenant, event, status string }
		ds, err := Collect(rows, err, func(r Row) (dl, error) {
			var v dl
			return v, r.Scan(&v.id, &v.tenant, &v.event, &v.status)
		})
		if err != nil {
			return err
		}
		type key struct{ tenant, id string }
		active := map[key]bool{}
		for _, d := range ds {
			if d.status != store.StatusDelivered && d.status != store.StatusFailed {
				active[key{d.tenant, d.event}] = true
			}
		}
		var gone Table
		for _, ev := range evs {
			if !active[key{ev.TenantID, ev.ID}] {
				gone = append(gone, []any{ev.TenantID, ev.ID})
			}
		}
		var dids []string
		for _, d := range ds {
			if !active[key{d.tenant, d.event}] {
				dids = append(dids, d.id)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		// Each table on its own, children first, rather than by cascade:
		// the counts are what the run reports.
		var n int64
		if len(dids) > 0 {
			if n, err = tx.Exec(ctx, `DELETE FROM attempts WHERE `+s.db.InList("delivery_id", 1), dids); err != nil {
				return err
			}
			res.Attempts = int(n)
			if n, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE `+s.db.InList("id", 1), dids); err != nil {
				return err
			}
			res.Deliveries = int(n)
		}
		n, err = tx.Exec(ctx, `
			DELETE FROM events WHERE (tenant_id, id) IN (
				SELECT k.tenant_id, k.id FROM `+s.db.Rows(1, "k", eventKeyCols...)+`)`, gone)
		res.Events = int(n)
		return err
	})
	if err != nil {
		return nil, s.Err(err, "delete finished events")
	}
	return res, nil
}

// LeaseTake takes or renews a named lease; see store.Store.
func (s *Store) LeaseTake(ctx context.Context, p *store.LeaseParams) (bool, error) {
	if p.Name == "" || p.Owner == "" || p.Until.IsZero() {
		return false, errors.New("take lease: name, owner and expiry must all be set")
	}
	// One statement, so two nodes asking at once cannot both win: the
	// insert or the conditional update, whichever the row's state allows.
	rows, err := s.write.Query(ctx, `
		INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $4)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE leases.owner = excluded.owner OR leases.expires_at <= $3
		RETURNING owner`, p.Name, p.Owner, s.orNow(p.Now), store.Timestamp(p.Until))
	got, err := Collect(rows, err, func(r Row) (string, error) {
		var v string
		return v, r.Scan(&v)
	})
	if err != nil {
		return false, s.Err(err, "take lease %q", p.Name)
	}
	return len(got) == 1, nil
}

// LeaseRelease gives up a named lease if owner holds it.
func (s *Store) LeaseRelease(ctx context.Context, name, owner string) error {
	_, err := s.write.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND owner = $2`, name, owner)
	return s.Err(err, "release lease %q", name)
}
