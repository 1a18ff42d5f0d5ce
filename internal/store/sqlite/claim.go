package sqlite

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// claimPickSQL chooses what to lease, oldest due first. ?1 now, ?2 limit,
// ?3 per-endpoint cap, ?4 per-tenant share, ?5 owner, ?6 the owner's
// settling deliveries, ?7 the owner's factor of the cap (store.LeaseCap),
// ?8 the endpoints it applies to (store.DeliveryClaimParams.Eager).
//
// Claim at most cap-inflight per endpoint in the query itself: a worker that
// claimed ten deliveries for one dead endpoint would sit on all ten until
// the timeout, while healthy endpoints waited behind it. And pick within
// each endpoint before ordering and limiting over all of them: a plain
// ORDER BY next_attempt_at LIMIT n over every due row would return the same
// rows of one backlogged, capped endpoint on every claim and never reach
// anyone else's. Tenants take their turns the same way: no more leases for
// a tenant than its share ($4) leaves, and the claim's limit goes round the
// tenants with due work (each one's first, then each one's second, ...),
// so one tenant's backlog of many endpoints cannot take every claim. The
// writer's IMMEDIATE transaction makes the in-flight counts exact and keeps
// two claimers from picking the same rows.
var claimPickSQL = `
WITH settling AS MATERIALIZED (
    -- The owner's ($5) leases whose attempts have ended, waiting for their
    -- record ($6, store.DeliveryClaimParams.Settling): not attempts in
    -- flight, so not counted below.
    SELECT s.endpoint_id, s.tenant_id
    FROM deliveries s
    WHERE s.id IN (SELECT value FROM json_each($6)) AND s.status = 'delivering'
      AND s.lease_owner = $5 AND s.lease_expires_at > $1
),
due_eps AS MATERIALIZED (
    -- Enabled, live (not deleted) endpoints with due work.
    SELECT ep.id, ep.tenant_id, ep.max_in_flight, ep.consecutive_failures
    FROM endpoints ep
    WHERE ep.enabled AND ` + sqlstore.EndpointLive + ` AND EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.endpoint_id = ep.id
          AND d.status IN ('pending', 'retrying', 'delivering')
          AND d.next_attempt_at <= $1)
),
` + sqlstore.TenantLeases("$1") + `,
room AS MATERIALIZED (
    -- How many more leases each of those endpoints may take: its cap
    -- (sqlstore.InFlightCap) times the owner's factor (sqlstore.LeaseFactor,
    -- store.LeaseCap), less the unexpired leases it holds, but for the
    -- settling ones. Computed once per endpoint (MATERIALIZED), not
    -- once per use of n below.
    SELECT ep.id AS endpoint_id, ep.tenant_id,
        ` + sqlstore.InFlightCap("$3") + `
          * ` + sqlstore.LeaseFactor("$1", "$5", "$4", "$7", "ep.id IN (SELECT value FROM json_each($8))") + `
          - (SELECT count(*) FROM deliveries l
              WHERE l.endpoint_id = ep.id AND l.status = 'delivering' AND l.lease_expires_at > $1)
          + (SELECT count(*) FROM settling s WHERE s.endpoint_id = ep.id) AS n
    FROM due_eps ep
),
tenant_room AS MATERIALIZED (
    -- The same for the tenants of those endpoints: their share less the
    -- unexpired leases they hold, but for the settling ones.
    SELECT tl.tenant_id, $4 - tl.n AS tn
    FROM tenant_leases tl
    WHERE tl.tenant_id IN (SELECT tenant_id FROM room WHERE n > 0)
),
candidates AS (
    -- The first cap due rows of each endpoint with room, read from the
    -- (endpoint, due) index: a backlog of thousands at one endpoint costs a
    -- probe, not a scan, and a full endpoint is not probed at all. SQLite
    -- has no LATERAL, and a LIMIT may not name an outer column, so the
    -- subquery takes cap rows and the rank keeps the first n of them.
    SELECT d.id, d.next_attempt_at, r.n, r.tenant_id,
        row_number() OVER (PARTITION BY r.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rn
    FROM room r
    JOIN deliveries d ON d.id IN (
        SELECT d2.id FROM deliveries d2
        WHERE d2.endpoint_id = r.endpoint_id
          AND d2.status IN ('pending', 'retrying', 'delivering')
          AND d2.next_attempt_at <= $1
        ORDER BY d2.next_attempt_at, d2.id
        LIMIT $3 * $7)
    WHERE r.n > 0
),
ranked AS (
    -- Each tenant's candidates in due order, numbered: the turn each takes.
    SELECT c.id, c.next_attempt_at, tr.tn,
        row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.next_attempt_at, c.id) AS turn
    FROM candidates c
    JOIN tenant_room tr ON tr.tenant_id = c.tenant_id
    WHERE c.rn <= c.n
)
SELECT id
FROM ranked
WHERE turn <= tn
ORDER BY turn, next_attempt_at, id
LIMIT $2`

// DeliveryClaimDue leases due deliveries to p.Owner; see store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	return s.Claim(ctx, p, func(ctx context.Context, tx sqlstore.Querier, now, until time.Time) ([]*store.Claimed, error) {
		rows, err := tx.Query(ctx, claimPickSQL, now, p.Limit, p.PerEndpoint, store.TenantCap(p.PerTenant), p.Owner, p.Settling, max(p.OwnFactor, 1), p.Eager)
		ids, err := sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) {
			var v string
			return v, r.Scan(&v)
		})
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		// Lease them; next_attempt_at becomes the lease expiry, when the
		// row is due again if the worker never reports back.
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries
			SET status = 'delivering', lease_owner = ?2, lease_expires_at = ?3,
				next_attempt_at = ?3, updated_at = ?4
			WHERE id IN (SELECT value FROM json_each(?1))`,
			ids, p.Owner, until, now); err != nil {
			return nil, err
		}
		rows, err = tx.Query(ctx, `
			SELECT `+sqlstore.ClaimedCols+`
			FROM deliveries d
			JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
			JOIN endpoints ep ON ep.id = d.endpoint_id
			WHERE d.id IN (SELECT value FROM json_each(?1))`, ids)
		claimed, err := sqlstore.Collect(rows, err, s.ScanClaimed)
		if err != nil {
			return nil, err
		}
		// Back in the order the pick chose: tenants in turn, oldest due first.
		byID := make(map[string]*store.Claimed, len(claimed))
		for _, c := range claimed {
			byID[c.Delivery.ID] = c
		}
		out := make([]*store.Claimed, 0, len(ids))
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return out, nil
	})
}
