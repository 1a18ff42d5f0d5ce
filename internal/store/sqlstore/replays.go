package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
)

const replayCols = `id, tenant_id, endpoint_id, status, since_at, until_at, delivery_status, event_type,
	queued, scanned, position_at, position_id, error, coalesce(lease_owner, ''), lease_expires_at,
	created_at, updated_at, finished_at`

func scanReplay(r Row) (*store.Replay, error) {
	var v store.Replay
	if err := r.Scan(&v.ID, &v.TenantID, &v.EndpointID, &v.Status, &v.Since, &v.Until, &v.DeliveryStatus, &v.EventType,
		&v.Queued, &v.Scanned, &v.PositionAt, &v.PositionID, &v.Error, &v.LeaseOwner, &v.LeaseExpiresAt,
		&v.CreatedAt, &v.UpdatedAt, &v.FinishedAt); err != nil {
		return nil, err
	}
	v.Since, v.Until, v.PositionAt = store.Timestamp(v.Since), store.Timestamp(v.Until), store.Timestamp(v.PositionAt)
	v.CreatedAt, v.UpdatedAt = store.Timestamp(v.CreatedAt), store.Timestamp(v.UpdatedAt)
	v.LeaseExpiresAt, v.FinishedAt = tsPtr(v.LeaseExpiresAt), tsPtr(v.FinishedAt)
	return &v, nil
}

// ReplayCreate stores a new running replay of one of the tenant's
// endpoints, its position at the start of its window.
func (s *Store) ReplayCreate(ctx context.Context, r *store.Replay) (*store.Replay, error) {
	if !store.ReplayStatusOK(r.DeliveryStatus) {
		return nil, fmt.Errorf("create replay: delivery status %q is not failed or delivered", r.DeliveryStatus)
	}
	now := s.orNow(r.CreatedAt)
	rid := r.ID
	if rid == "" {
		rid = id.NewAt(id.Replay, now)
	}
	var out *store.Replay
	err := s.db.Tx(ctx, func(tx Querier) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive+`)`,
			r.TenantID, r.EndpointID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("endpoint %q: %w", r.EndpointID, store.ErrNotFound)
		}
		var err error
		out, err = scanReplay(tx.QueryRow(ctx, `
			INSERT INTO replays (id, tenant_id, endpoint_id, status, since_at, until_at, delivery_status, event_type,
				position_at, position_id, lease_owner, lease_expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $4, '', $8, $9, $10, $10)
			RETURNING `+replayCols,
			rid, r.TenantID, r.EndpointID, store.Timestamp(r.Since), store.Timestamp(r.Until), r.DeliveryStatus, r.EventType,
			nullString(r.LeaseOwner), tsPtr(r.LeaseExpiresAt), now))
		return err
	})
	if err != nil {
		return nil, s.Err(err, "create replay of endpoint %q", r.EndpointID)
	}
	return out, nil
}

// ReplayGet loads one of the tenant's replays.
func (s *Store) ReplayGet(ctx context.Context, tenantID, replayID string) (*store.Replay, error) {
	return getRow(ctx, s, s.read, scanReplay, fmt.Sprintf("replay %q", replayID),
		`SELECT `+replayCols+` FROM replays WHERE tenant_id = $1 AND id = $2`, tenantID, replayID)
}

// ReplayList pages through the tenant's replays, newest first.
func (s *Store) ReplayList(ctx context.Context, tenantID string, p *store.ReplayListParams) ([]*store.Replay, error) {
	q := `SELECT ` + replayCols + ` FROM replays WHERE tenant_id = $1`
	args := []any{tenantID}
	if p.EndpointID != "" {
		args = append(args, p.EndpointID)
		q += ` AND endpoint_id = $2`
	}
	return pageRows(ctx, s, scanReplay, "replays", &p.ListParams, "id", q, args...)
}

// ReplayClaim leases the oldest running replay nobody holds, or one owner
// holds already.
func (s *Store) ReplayClaim(ctx context.Context, owner string, now, until time.Time) (*store.Replay, error) {
	if owner == "" {
		return nil, errors.New("claim replay: no owner given")
	}
	now, until = store.Timestamp(now), store.Timestamp(until)
	// The condition is on the UPDATE as well as in its subquery: of two
	// nodes that picked the same replay, the second finds, once the
	// first's row lock is released, that it no longer qualifies, and
	// takes nothing (it tries again at its next poll).
	const free = `status = 'running' AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at <= $2)`
	out, err := scanReplay(s.write.QueryRow(ctx, `
		UPDATE replays SET lease_owner = $1, lease_expires_at = $3
		WHERE `+free+` AND id = (
			SELECT id FROM replays WHERE `+free+`
			ORDER BY created_at, id LIMIT 1)
		RETURNING `+replayCols, owner, now, until))
	if err != nil {
		return nil, s.Err(notFound(err, "a running replay to claim"), "claim replay")
	}
	return out, nil
}

// replayWalk is the query of a replay batch's deliveries for each status a
// replay may select: the status is spelled in the text, never bound, so
// that SQLite uses the partial index on failed deliveries (and
// PostgreSQL's generic plans can too).
var replayWalk = map[string]string{}

func init() {
	for _, st := range []string{store.StatusFailed, store.StatusDelivered} {
		replayWalk[st] = `
			SELECT d.id, d.created_at, d.event_type FROM deliveries d
			WHERE d.endpoint_id = $1 AND d.status = '` + st + `'
				AND d.created_at < $2 AND (d.created_at, d.id) > ($3, $4)
			ORDER BY d.created_at, d.id
			LIMIT $5`
	}
}

// ReplayStep runs one batch of a replay leased to p.Owner; see
// store.Store.
func (s *Store) ReplayStep(ctx context.Context, p *store.ReplayStepParams) (*store.Replay, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.orNow(p.Now)
	until := store.Timestamp(p.LeaseUntil)
	var out *store.Replay
	err := s.db.Tx(ctx, func(tx Querier) error {
		r, err := scanReplay(tx.QueryRow(ctx, `SELECT `+replayCols+` FROM replays WHERE id = $1`+s.db.LockClause(LockUpdate), p.ID))
		if err != nil {
			return notFound(err, "replay %q", p.ID)
		}
		if r.Status != store.ReplayRunning || r.LeaseOwner != p.Owner {
			return fmt.Errorf("replay %q: %w", p.ID, store.ErrLeaseLost)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive+`)`,
			r.TenantID, r.EndpointID).Scan(&exists); err != nil {
			return err
		}
		walk, ok := replayWalk[r.DeliveryStatus]
		switch {
		case !exists:
			out, err = s.replayFinish(ctx, tx, r.ID, store.ReplayFailed, fmt.Sprintf("endpoint %s was deleted", r.EndpointID), now)
			return err
		case !ok:
			out, err = s.replayFinish(ctx, tx, r.ID, store.ReplayFailed, fmt.Sprintf("cannot replay deliveries of status %q", r.DeliveryStatus), now)
			return err
		}
		// The batch's deliveries are locked until the commit (PostgreSQL),
		// so none changes between being looked at and being queued.
		rows, err := tx.Query(ctx, walk+s.db.LockClause(LockUpdate), r.EndpointID, r.Until, r.PositionAt, r.PositionID, p.Limit)
		type seen struct {
			id, typ string
			at      time.Time
		}
		batch, err := Collect(rows, err, func(row Row) (seen, error) {
			var v seen
			return v, row.Scan(&v.id, &v.at, &v.typ)
		})
		if err != nil {
			return err
		}
		var ids []string
		for _, d := range batch {
			if r.EventType == "" || store.MatchEventType([]string{r.EventType}, d.typ) {
				ids = append(ids, d.id)
			}
		}
		var queued int64
		if len(ids) > 0 {
			// The status again: a delivery queued since by someone else is
			// no longer this replay's to queue.
			if queued, err = tx.Exec(ctx, `
				UPDATE deliveries SET status = 'pending', series_attempts = 0,
					next_attempt_at = $2, updated_at = $2
				WHERE `+s.db.InList("id", 1)+` AND status = $3`, ids, now, r.DeliveryStatus); err != nil {
				return err
			}
		}
		posAt, posID := r.PositionAt, r.PositionID
		if len(batch) > 0 {
			last := batch[len(batch)-1]
			posAt, posID = store.Timestamp(last.at), last.id
		}
		status := store.ReplayRunning
		var finished *time.Time
		owner, leaseUntil := &p.Owner, &until
		if len(batch) < p.Limit {
			status, finished, owner, leaseUntil = store.ReplayDone, &now, nil, nil
		}
		out, err = scanReplay(tx.QueryRow(ctx, `
			UPDATE replays SET queued = queued + $2, scanned = scanned + $3, position_at = $4, position_id = $5,
				status = $6, finished_at = $7, lease_owner = $8, lease_expires_at = $9, updated_at = $10
			WHERE id = $1
			RETURNING `+replayCols, r.ID, queued, len(batch), posAt, posID, status, finished, owner, leaseUntil, now))
		if err != nil {
			return err
		}
		if queued > 0 {
			return s.db.Notify(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, s.Err(err, "replay %q: run a batch", p.ID)
	}
	return out, nil
}

// replayFinish ends a replay as status, with why.
func (s *Store) replayFinish(ctx context.Context, tx Querier, replayID, status, why string, now time.Time) (*store.Replay, error) {
	return scanReplay(tx.QueryRow(ctx, `
		UPDATE replays SET status = $2, error = $3, finished_at = $4, updated_at = $4,
			lease_owner = NULL, lease_expires_at = NULL
		WHERE id = $1
		RETURNING `+replayCols, replayID, status, why, now))
}

// ReplayDeleteFinished deletes up to limit replays finished before before.
func (s *Store) ReplayDeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.write.Exec(ctx, `
		DELETE FROM replays WHERE id IN (
			SELECT id FROM replays WHERE status <> 'running' AND finished_at < $1
			ORDER BY finished_at LIMIT $2)`, store.Timestamp(before), limit)
	if err != nil {
		return 0, s.Err(err, "delete finished replays")
	}
	return int(n), nil
}
