package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// deliveryCols are the columns deliveryRow scans; queries name the table d.
const deliveryCols = `d.id, d.tenant_id, d.event_id, d.event_type, d.endpoint_id, d.status,
	d.attempts, d.series_attempts, d.next_attempt_at, d.last_status_code, d.last_error,
	d.created_at, d.updated_at`

type deliveryRow struct {
	d store.Delivery
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.TenantID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status,
		&d.Attempts, &d.SeriesAttempts, &d.NextAttemptAt, &d.LastStatusCode, &d.LastError,
		&d.CreatedAt, &d.UpdatedAt}
}

func (r *deliveryRow) value() *store.Delivery {
	d := r.d
	// A delivering row's next_attempt_at is its lease expiry (see the
	// schema); to callers a delivery in flight has no next attempt.
	if d.Status == store.StatusDelivering {
		d.NextAttemptAt = nil
	}
	d.NextAttemptAt = tsPtr(d.NextAttemptAt)
	d.CreatedAt, d.UpdatedAt = store.Timestamp(d.CreatedAt), store.Timestamp(d.UpdatedAt)
	return &d
}

func scanDelivery(row pgx.Row) (*store.Delivery, error) {
	var r deliveryRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.value(), nil
}

func getDelivery(ctx context.Context, q querier, where string, args ...any) (*store.Delivery, error) {
	d, err := scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries d WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("delivery %q: %w", args[len(args)-1], store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get delivery %q", args[len(args)-1])
	}
	return d, nil
}

// DeliveryGet loads one of the tenant's deliveries.
func (s *Store) DeliveryGet(ctx context.Context, tenantID, deliveryID string) (*store.Delivery, error) {
	return getDelivery(ctx, s.pool, `d.tenant_id = $1 AND d.id = $2`, tenantID, deliveryID)
}

// DeliveryGetByID loads a delivery of any tenant.
func (s *Store) DeliveryGetByID(ctx context.Context, deliveryID string) (*store.Delivery, error) {
	return getDelivery(ctx, s.pool, `d.id = $1`, deliveryID)
}

// DeliveryList pages through the tenant's deliveries, newest first, with
// the filters p sets.
func (s *Store) DeliveryList(ctx context.Context, tenantID string, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM deliveries d WHERE tenant_id = $1`
	args := []any{tenantID}
	for _, f := range []struct{ col, val string }{
		{"status", p.Status}, {"endpoint_id", p.EndpointID}, {"event_id", p.EventID},
	} {
		if f.val != "" {
			args = append(args, f.val)
			q += fmt.Sprintf(" AND %s = $%d", f.col, len(args))
		}
	}
	q, args, err := page(q, args, "id", &p.ListParams)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, dbErr(err, "list deliveries")
	}
	return out, nil
}

const attemptCols = `id, delivery_id, number, started_at, duration_ms, response_code, response_body, error`

// DeliveryAttempts lists a delivery's attempts, oldest first.
func (s *Store) DeliveryAttempts(ctx context.Context, deliveryID string) ([]*store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+attemptCols+` FROM attempts WHERE delivery_id = $1 ORDER BY number`, deliveryID)
	out, err := collect(rows, err, func(r pgx.Row) (*store.Attempt, error) {
		var a store.Attempt
		var body []byte
		if err := r.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.StartedAt, &a.DurationMS,
			&a.ResponseCode, &body, &a.Error); err != nil {
			return nil, err
		}
		a.ResponseBody = string(body)
		a.StartedAt = store.Timestamp(a.StartedAt)
		return &a, nil
	})
	if err != nil {
		return nil, dbErr(err, "list attempts")
	}
	return out, nil
}

// claimSQL leases due deliveries. $1 now, $2 lease expiry, $3 owner,
// $4 limit, $5 per-endpoint cap.
//
// Claim at most cap-inflight per endpoint in the query itself: a worker that
// claimed ten deliveries for one dead endpoint would sit on all ten until
// the timeout, while healthy endpoints waited behind it. And pick per
// endpoint (a LATERAL over the endpoint's own due rows) before ordering and
// limiting over all of them: a plain ORDER BY next_attempt_at LIMIT n over
// every due row would return the same thousand rows of one backlogged,
// capped endpoint on every claim and never reach anyone else's.
const claimSQL = `
WITH room AS MATERIALIZED (
    -- Enabled endpoints with due work, and how many more leases each may
    -- take: the cap minus the unexpired leases it holds already.
    SELECT id, free
    FROM (
        SELECT e.id, $5 - (
                SELECT count(*) FROM deliveries l
                WHERE l.endpoint_id = e.id AND l.status = 'delivering' AND l.lease_expires_at > $1
            ) AS free
        FROM endpoints e
        WHERE e.enabled
          AND EXISTS (
                SELECT 1 FROM deliveries d
                WHERE d.endpoint_id = e.id
                  AND d.status IN ('pending', 'retrying', 'delivering')
                  AND d.next_attempt_at <= $1)
    ) r
    WHERE free > 0
),
candidates AS (
    SELECT c.id, c.next_attempt_at AS due
    FROM room
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at
        FROM deliveries d
        WHERE d.endpoint_id = room.id
          AND d.status IN ('pending', 'retrying', 'delivering')
          AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at, d.id
        LIMIT room.free
    ) c
    ORDER BY c.next_attempt_at, c.id
    LIMIT $4
),
picked AS (
    -- Lock only the rows taken. One being recorded or released right now
    -- is skipped, not waited for (the next claim finds it if it is still
    -- due); one changed since this statement began is checked again
    -- against the conditions before it is locked.
    SELECT d.id, candidates.due
    FROM deliveries d
    JOIN candidates ON candidates.id = d.id
    WHERE d.status IN ('pending', 'retrying', 'delivering')
      AND d.next_attempt_at <= $1
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE deliveries d
    SET status = 'delivering', lease_owner = $3, lease_expires_at = $2,
        next_attempt_at = $2, updated_at = $1
    FROM picked
    WHERE d.id = picked.id
    RETURNING d.*, picked.due
)
SELECT ` + deliveryCols + `, d.body, d.lease_expires_at, ` + eventCols + `, ` + endpointCols + `
FROM claimed d
JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
JOIN endpoints ep ON ep.id = d.endpoint_id
ORDER BY d.due, d.id`

// DeliveryClaimDue leases due deliveries to p.Owner; see store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := store.Timestamp(p.Now)
	until := store.Timestamp(p.Now.Add(p.Lease))
	var out []*store.Claimed
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Claimers take turns (claims take milliseconds): the in-flight count
		// in the query is then exact, where two concurrent claims would each
		// count the other's leases as free room.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, lockClaim); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, now, until, p.Owner, p.Limit, p.PerEndpoint)
		out, err = collect(rows, err, func(r pgx.Row) (*store.Claimed, error) {
			var dr deliveryRow
			var er eventRow
			var epr endpointRow
			c := &store.Claimed{}
			dest := append(dr.dest(), &c.Body, &c.LeaseUntil)
			dest = append(dest, er.dest()...)
			dest = append(dest, epr.dest()...)
			if err := r.Scan(dest...); err != nil {
				return nil, err
			}
			ep, err := epr.value()
			if err != nil {
				return nil, err
			}
			c.Delivery, c.Event, c.Endpoint = dr.value(), er.value(), ep
			c.LeaseUntil = store.Timestamp(c.LeaseUntil)
			return c, nil
		})
		return err
	})
	if err != nil {
		return nil, dbErr(err, "claim due deliveries")
	}
	return out, nil
}

// DeliveryRecordAttempt stores an attempt and moves the delivery on, fenced
// by the lease; see store.Store.
func (s *Store) DeliveryRecordAttempt(ctx context.Context, p *store.AttemptRecordParams) (*store.Attempt, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var next *time.Time
	if p.Status == store.StatusRetrying {
		next = tsPtr(p.NextAttemptAt)
	}
	a := p.NewAttempt(s.now())
	a.Error = cleanText(a.Error)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// This commit need not wait for its WAL flush: if PostgreSQL itself
		// crashed before the flush, the delivery would still be leased and
		// be attempted again (at least once, as after a Herald crash), while
		// not waiting for an fsync per attempt is what lets one endpoint get
		// more than a few hundred attempts a second. Events, which are the
		// data Herald must never lose, are committed synchronously.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		// The fence: only the lease holder may record. If the lease ran out
		// and another worker claimed the delivery, lease_owner is theirs and
		// this attempt is dropped (ErrLeaseLost), so one attempt number is
		// never recorded twice.
		err := tx.QueryRow(ctx, `
			UPDATE deliveries SET
				attempts = attempts + 1,
				series_attempts = series_attempts + 1,
				status = $3,
				next_attempt_at = $4,
				lease_owner = NULL,
				lease_expires_at = NULL,
				last_status_code = $5,
				last_error = $6,
				body = coalesce(body, $7),
				updated_at = $8
			WHERE id = $1 AND status = 'delivering' AND lease_owner = $2
			RETURNING attempts`,
			p.DeliveryID, p.Owner, p.Status, next, a.ResponseCode, a.Error, p.Body, s.orNow(p.Now),
		).Scan(&a.Number)
		if errors.Is(err, pgx.ErrNoRows) {
			return leaseLost(ctx, tx, p.DeliveryID)
		}
		if err != nil {
			return err
		}
		body := []byte(a.ResponseBody)
		_, err = tx.Exec(ctx, `
			INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, response_code, response_body, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			a.ID, a.DeliveryID, a.Number, a.StartedAt, a.DurationMS, a.ResponseCode, body, a.Error)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) {
		return nil, err
	}
	if err != nil {
		return nil, dbErr(err, "record attempt of delivery %q", p.DeliveryID)
	}
	return &a, nil
}

// leaseLost tells why a fenced update matched nothing: the delivery is gone,
// or its lease is not the caller's.
func leaseLost(ctx context.Context, q querier, deliveryID string) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, deliveryID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound)
	}
	return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrLeaseLost)
}

// DeliveryRelease hands a leased delivery back unattempted, due at next.
func (s *Store) DeliveryRelease(ctx context.Context, deliveryID, owner string, next time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE deliveries SET
				-- Back to where the claim found it: pending before the first
				-- attempt of the series, retrying after one.
				status = CASE WHEN series_attempts = 0 THEN 'pending' ELSE 'retrying' END,
				next_attempt_at = $3,
				lease_owner = NULL,
				lease_expires_at = NULL,
				updated_at = $4
			WHERE id = $1 AND status = 'delivering' AND lease_owner = $2`,
			deliveryID, owner, store.Timestamp(next), store.Timestamp(s.now()))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return leaseLost(ctx, tx, deliveryID)
		}
		return notify(ctx, tx)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	if err != nil {
		return dbErr(err, "release delivery %q", deliveryID)
	}
	return nil
}

// DeliveryRetry starts a new attempt series for a finished delivery.
func (s *Store) DeliveryRetry(ctx context.Context, tenantID, deliveryID string, now time.Time) (*store.Delivery, error) {
	now = store.Timestamp(now)
	var out *store.Delivery
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanDelivery(tx.QueryRow(ctx, `
			UPDATE deliveries d SET status = 'pending', series_attempts = 0,
				next_attempt_at = $3, updated_at = $3
			WHERE d.tenant_id = $1 AND d.id = $2 AND d.status IN ('delivered', 'failed')
			RETURNING `+deliveryCols, tenantID, deliveryID, now))
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := getDelivery(ctx, tx, `d.tenant_id = $1 AND d.id = $2`, tenantID, deliveryID)
			if err != nil {
				return err
			}
			return fmt.Errorf("delivery %q is %s, not delivered or failed: %w", deliveryID, cur.Status, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return notify(ctx, tx)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	if err != nil {
		return nil, dbErr(err, "retry delivery %q", deliveryID)
	}
	return out, nil
}

// DeliveryReplay starts a new series for the endpoint's failed deliveries
// created in [since, until); a zero until means no upper bound.
func (s *Store) DeliveryReplay(ctx context.Context, tenantID, endpointID string, since, until, now time.Time) (int, error) {
	now = store.Timestamp(now)
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE tenant_id = $1 AND id = $2)`,
			tenantID, endpointID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("endpoint %q: %w", endpointID, store.ErrNotFound)
		}
		q := `UPDATE deliveries SET status = 'pending', series_attempts = 0,
				next_attempt_at = $4, updated_at = $4
			WHERE endpoint_id = $2 AND tenant_id = $1 AND status = 'failed' AND created_at >= $3`
		args := []any{tenantID, endpointID, store.Timestamp(since), now}
		if !until.IsZero() {
			q += ` AND created_at < $5`
			args = append(args, store.Timestamp(until))
		}
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if n > 0 {
			return notify(ctx, tx)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, dbErr(err, "replay deliveries of endpoint %q", endpointID)
	}
	return n, nil
}

// DeliveryNextDue returns when the earliest claimable delivery is due.
func (s *Store) DeliveryNextDue(ctx context.Context) (time.Time, error) {
	// Deliveries of disabled endpoints are not claimable, so they must not
	// count here either: a worker told "due now" that then claims nothing
	// would spin. ORDER BY LIMIT 1 (not min()) lets PostgreSQL walk the
	// partial index and stop at the first enabled endpoint.
	var at time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT d.next_attempt_at
		FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.status IN ('pending', 'retrying', 'delivering') AND e.enabled
		ORDER BY d.next_attempt_at
		LIMIT 1`).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("next due delivery: %w", store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, dbErr(err, "next due delivery")
	}
	return store.Timestamp(at), nil
}

// DeliveryExtendLeases is the heartbeat for attempts in flight.
func (s *Store) DeliveryExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	// A delivering row's next_attempt_at mirrors its lease expiry.
	tag, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET lease_expires_at = $3, next_attempt_at = $3
		WHERE id = ANY($2) AND lease_owner = $1 AND status = 'delivering'`,
		owner, ids, store.Timestamp(until))
	if err != nil {
		return 0, dbErr(err, "extend leases")
	}
	return int(tag.RowsAffected()), nil
}
