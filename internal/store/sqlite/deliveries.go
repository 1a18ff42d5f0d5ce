package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// deliveryCols are the columns deliveryRow scans; queries name the table d.
const deliveryCols = `d.id, d.tenant_id, d.event_id, d.event_type, d.endpoint_id, d.status,
	d.attempts, d.series_attempts, d.next_attempt_at, d.last_status_code, d.last_error,
	d.created_at, d.updated_at`

type deliveryRow struct {
	d                store.Delivery
	next             sql.NullInt64
	created, updated int64
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.TenantID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status,
		&d.Attempts, &d.SeriesAttempts, &r.next, &d.LastStatusCode, &d.LastError,
		&r.created, &r.updated}
}

func (r *deliveryRow) value() *store.Delivery {
	d := r.d
	// A delivering row's next_attempt_at is its lease expiry (see the
	// schema); to callers a delivery in flight has no next attempt.
	if d.Status != store.StatusDelivering {
		d.NextAttemptAt = fromNullUS(r.next)
	}
	d.CreatedAt, d.UpdatedAt = fromUS(r.created), fromUS(r.updated)
	return &d
}

func scanDelivery(r row) (*store.Delivery, error) {
	var dr deliveryRow
	if err := r.Scan(dr.dest()...); err != nil {
		return nil, err
	}
	return dr.value(), nil
}

func getDelivery(ctx context.Context, q querier, where string, args ...any) (*store.Delivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %q: %w", args[len(args)-1], store.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err, "get delivery %q", args[len(args)-1])
	}
	return d, nil
}

// DeliveryGet loads one of the tenant's deliveries.
func (s *Store) DeliveryGet(ctx context.Context, tenantID, deliveryID string) (*store.Delivery, error) {
	return getDelivery(ctx, s.read, `d.tenant_id = ?1 AND d.id = ?2`, tenantID, deliveryID)
}

// DeliveryGetByID loads a delivery of any tenant.
func (s *Store) DeliveryGetByID(ctx context.Context, deliveryID string) (*store.Delivery, error) {
	return getDelivery(ctx, s.read, `d.id = ?1`, deliveryID)
}

// DeliveryList pages through the tenant's deliveries, newest first, with
// the filters p sets.
func (s *Store) DeliveryList(ctx context.Context, tenantID string, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM deliveries d WHERE tenant_id = ?1`
	args := []any{tenantID}
	for _, f := range []struct{ col, val string }{
		{"status", p.Status}, {"endpoint_id", p.EndpointID}, {"event_id", p.EventID},
	} {
		if f.val != "" {
			args = append(args, f.val)
			q += fmt.Sprintf(" AND %s = ?%d", f.col, len(args))
		}
	}
	q, args, err := page(q, args, "id", &p.ListParams)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, dbErr(err, "list deliveries")
	}
	return out, nil
}

// DeliveryAttempts lists a delivery's attempts, oldest first.
func (s *Store) DeliveryAttempts(ctx context.Context, deliveryID string) ([]*store.Attempt, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, delivery_id, number, started_at, duration_ms, response_code, response_body, error
		FROM attempts WHERE delivery_id = ?1 ORDER BY number`, deliveryID)
	out, err := collect(rows, err, func(r row) (*store.Attempt, error) {
		var a store.Attempt
		var body []byte
		var started int64
		if err := r.Scan(&a.ID, &a.DeliveryID, &a.Number, &started, &a.DurationMS,
			&a.ResponseCode, &body, &a.Error); err != nil {
			return nil, err
		}
		a.ResponseBody = string(body)
		a.StartedAt = fromUS(started)
		return &a, nil
	})
	if err != nil {
		return nil, dbErr(err, "list attempts")
	}
	return out, nil
}

// claimPickSQL chooses what to lease, oldest due first. ?1 now, ?2 limit,
// ?3 per-endpoint cap.
//
// Claim at most cap-inflight per endpoint in the query itself: a worker that
// claimed ten deliveries for one dead endpoint would sit on all ten until
// the timeout, while healthy endpoints waited behind it. And pick within
// each endpoint before ordering and limiting over all of them: a plain
// ORDER BY next_attempt_at LIMIT n over every due row would return the same
// rows of one backlogged, capped endpoint on every claim and never reach
// anyone else's. The writer's IMMEDIATE transaction makes the in-flight
// count exact and keeps two claimers from picking the same rows.
const claimPickSQL = `
WITH room AS MATERIALIZED (
    -- Enabled endpoints with due work, and how many more leases each may
    -- take: the cap minus the unexpired leases it holds already. Computed
    -- once per endpoint (MATERIALIZED), not once per use of n below.
    SELECT e.id AS endpoint_id,
        ?3 - (SELECT count(*) FROM deliveries l
              WHERE l.endpoint_id = e.id AND l.status = 'delivering' AND l.lease_expires_at > ?1) AS n
    FROM endpoints e
    WHERE e.enabled AND EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.endpoint_id = e.id
          AND d.status IN ('pending', 'retrying', 'delivering')
          AND d.next_attempt_at <= ?1)
),
candidates AS (
    -- The first cap due rows of each endpoint with room, read from the
    -- (endpoint, due) index: a backlog of thousands at one endpoint costs a
    -- probe, not a scan, and a full endpoint is not probed at all. SQLite
    -- has no LATERAL, and a LIMIT may not name an outer column, so the
    -- subquery takes cap rows and the rank keeps the first n of them.
    SELECT d.id, d.next_attempt_at, r.n,
        row_number() OVER (PARTITION BY r.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rn
    FROM room r
    JOIN deliveries d ON d.id IN (
        SELECT d2.id FROM deliveries d2
        WHERE d2.endpoint_id = r.endpoint_id
          AND d2.status IN ('pending', 'retrying', 'delivering')
          AND d2.next_attempt_at <= ?1
        ORDER BY d2.next_attempt_at, d2.id
        LIMIT ?3)
    WHERE r.n > 0
)
SELECT id
FROM candidates
WHERE rn <= n
ORDER BY next_attempt_at, id
LIMIT ?2`

// DeliveryClaimDue leases due deliveries to p.Owner; see store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := store.Timestamp(p.Now)
	until := store.Timestamp(p.Now.Add(p.Lease))
	var out []*store.Claimed
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimPickSQL, us(now), p.Limit, p.PerEndpoint)
		ids, err := collect(rows, err, func(r row) (string, error) {
			var v string
			return v, r.Scan(&v)
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		list, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		// Lease them; next_attempt_at becomes the lease expiry, when the
		// row is due again if the worker never reports back.
		if _, err := tx.ExecContext(ctx, `
			UPDATE deliveries
			SET status = 'delivering', lease_owner = ?2, lease_expires_at = ?3,
				next_attempt_at = ?3, updated_at = ?4
			WHERE id IN (SELECT value FROM json_each(?1))`,
			string(list), p.Owner, us(until), us(now)); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `
			SELECT `+deliveryCols+`, d.body, d.body IS NOT NULL, `+eventCols+`, `+endpointCols+`
			FROM deliveries d
			JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
			JOIN endpoints ep ON ep.id = d.endpoint_id
			WHERE d.id IN (SELECT value FROM json_each(?1))`, string(list))
		claimed, err := collect(rows, err, func(r row) (*store.Claimed, error) {
			var dr deliveryRow
			var er eventRow
			var epr endpointRow
			var hasBody bool
			c := &store.Claimed{LeaseUntil: until}
			dest := append(dr.dest(), &c.Body, &hasBody)
			dest = append(dest, er.dest()...)
			dest = append(dest, epr.dest()...)
			if err := r.Scan(dest...); err != nil {
				return nil, err
			}
			if hasBody && c.Body == nil {
				c.Body = []byte{}
			}
			ep, err := epr.value()
			if err != nil {
				return nil, err
			}
			c.Delivery, c.Event, c.Endpoint = dr.value(), er.value(), ep
			return c, nil
		})
		if err != nil {
			return err
		}
		// Back in the order the pick chose: oldest due first.
		byID := make(map[string]*store.Claimed, len(claimed))
		for _, c := range claimed {
			byID[c.Delivery.ID] = c
		}
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return nil
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
	var next any
	if p.Status == store.StatusRetrying {
		next = us(*p.NextAttemptAt)
	}
	a := p.NewAttempt(s.now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The fence: only the lease holder may record. If the lease ran out
		// and another worker claimed the delivery, lease_owner is theirs and
		// this attempt is dropped (ErrLeaseLost), so one attempt number is
		// never recorded twice.
		err := tx.QueryRowContext(ctx, `
			UPDATE deliveries SET
				attempts = attempts + 1,
				series_attempts = series_attempts + 1,
				status = ?3,
				next_attempt_at = ?4,
				lease_owner = NULL,
				lease_expires_at = NULL,
				last_status_code = ?5,
				last_error = ?6,
				body = coalesce(body, ?7),
				updated_at = ?8
			WHERE id = ?1 AND status = 'delivering' AND lease_owner = ?2
			RETURNING attempts`,
			p.DeliveryID, p.Owner, p.Status, next, a.ResponseCode, a.Error, nullBytes(p.Body), us(s.orNow(p.Now)),
		).Scan(&a.Number)
		if errors.Is(err, sql.ErrNoRows) {
			return leaseLost(ctx, tx, p.DeliveryID)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, response_code, response_body, error)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
			a.ID, a.DeliveryID, a.Number, us(a.StartedAt), a.DurationMS, a.ResponseCode, []byte(a.ResponseBody), a.Error)
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
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = ?1)`, deliveryID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound)
	}
	return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrLeaseLost)
}

// DeliveryRelease hands a leased delivery back unattempted, due at next.
func (s *Store) DeliveryRelease(ctx context.Context, deliveryID, owner string, next time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE deliveries SET
				-- Back to where the claim found it: pending before the first
				-- attempt of the series, retrying after one.
				status = CASE WHEN series_attempts = 0 THEN 'pending' ELSE 'retrying' END,
				next_attempt_at = ?3,
				lease_owner = NULL,
				lease_expires_at = NULL,
				updated_at = ?4
			WHERE id = ?1 AND status = 'delivering' AND lease_owner = ?2`,
			deliveryID, owner, us(next), us(s.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return leaseLost(ctx, tx, deliveryID)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	if err != nil {
		return dbErr(err, "release delivery %q", deliveryID)
	}
	s.wake()
	return nil
}

// DeliveryRetry starts a new attempt series for a finished delivery.
func (s *Store) DeliveryRetry(ctx context.Context, tenantID, deliveryID string, now time.Time) (*store.Delivery, error) {
	var out *store.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanDelivery(tx.QueryRowContext(ctx, `
			UPDATE deliveries AS d SET status = 'pending', series_attempts = 0,
				next_attempt_at = ?3, updated_at = ?3
			WHERE d.tenant_id = ?1 AND d.id = ?2 AND d.status IN ('delivered', 'failed')
			RETURNING `+returning(deliveryCols), tenantID, deliveryID, us(now)))
		if errors.Is(err, sql.ErrNoRows) {
			cur, err := getDelivery(ctx, tx, `d.tenant_id = ?1 AND d.id = ?2`, tenantID, deliveryID)
			if err != nil {
				return err
			}
			return fmt.Errorf("delivery %q is %s, not delivered or failed: %w", deliveryID, cur.Status, store.ErrConflict)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	if err != nil {
		return nil, dbErr(err, "retry delivery %q", deliveryID)
	}
	s.wake()
	return out, nil
}

// DeliveryReplay starts a new series for the endpoint's failed deliveries
// created in [since, until); a zero until means no upper bound.
func (s *Store) DeliveryReplay(ctx context.Context, tenantID, endpointID string, since, until, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE tenant_id = ?1 AND id = ?2)`,
			tenantID, endpointID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("endpoint %q: %w", endpointID, store.ErrNotFound)
		}
		q := `UPDATE deliveries SET status = 'pending', series_attempts = 0,
				next_attempt_at = ?4, updated_at = ?4
			WHERE endpoint_id = ?2 AND tenant_id = ?1 AND status = 'failed' AND created_at >= ?3`
		args := []any{tenantID, endpointID, us(since), us(now)}
		if !until.IsZero() {
			q += ` AND created_at < ?5`
			args = append(args, us(until))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, dbErr(err, "replay deliveries of endpoint %q", endpointID)
	}
	if n > 0 {
		s.wake()
	}
	return int(n), nil
}

// DeliveryNextDue returns when the earliest claimable delivery is due.
func (s *Store) DeliveryNextDue(ctx context.Context) (time.Time, error) {
	// Deliveries of disabled endpoints are not claimable, so they must not
	// count here either: a worker told "due now" that then claims nothing
	// would spin.
	var at int64
	err := s.read.QueryRowContext(ctx, `
		SELECT d.next_attempt_at
		FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.status IN ('pending', 'retrying', 'delivering') AND e.enabled
		ORDER BY d.next_attempt_at
		LIMIT 1`).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("next due delivery: %w", store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, dbErr(err, "next due delivery")
	}
	return fromUS(at), nil
}

// DeliveryExtendLeases is the heartbeat for attempts in flight.
func (s *Store) DeliveryExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return 0, fmt.Errorf("extend leases: %w", err)
	}
	var n int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// A delivering row's next_attempt_at mirrors its lease expiry.
		res, err := tx.ExecContext(ctx, `
			UPDATE deliveries SET lease_expires_at = ?3, next_attempt_at = ?3
			WHERE id IN (SELECT value FROM json_each(?2)) AND lease_owner = ?1 AND status = 'delivering'`,
			owner, string(list), us(until))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, dbErr(err, "extend leases")
	}
	return int(n), nil
}
