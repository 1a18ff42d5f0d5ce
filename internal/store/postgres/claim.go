package postgres

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// claimSQL leases due deliveries. $1 now, $2 lease expiry, $3 owner,
// $4 limit, $5 per-endpoint cap, $6 per-tenant share, $7 the owner's
// settling deliveries (store.DeliveryClaimParams.Settling), $8 the
// owner's factor of the cap (store.LeaseCap), $9 the endpoints it applies
// to (store.DeliveryClaimParams.Eager).
//
// Claim at most cap-inflight per endpoint in the query itself: a worker that
// claimed ten deliveries for one dead endpoint would sit on all ten until
// the timeout, while healthy endpoints waited behind it. And pick per
// endpoint (a LATERAL over the endpoint's own due rows) before ordering and
// limiting over all of them: a plain ORDER BY next_attempt_at LIMIT n over
// every due row would return the same thousand rows of one backlogged,
// capped endpoint on every claim and never reach anyone else's. Tenants take
// their turns the same way: no more leases for a tenant than its share
// leaves, and the limit goes round the tenants with due work (each one's
// first, then each one's second, ...), so one tenant's backlog of many
// endpoints cannot take every claim.
//
// claimRoomSQL is its first part: which endpoints with due work have room,
// and their tenants' room (room, tenant_room).
var claimRoomSQL = `
WITH RECURSIVE active AS (
    -- The endpoints with unfinished deliveries and the earliest due time of
    -- each, found by skipping through the (endpoint, due) index: one probe
    -- per such endpoint, whatever the backlog. An EXISTS per endpoint was
    -- planned as a hash semi-join over every due row instead, and a claim
    -- then cost 15 ms at 60,000 due deliveries and grew with the backlog.
    (SELECT d.endpoint_id, d.next_attempt_at
     FROM deliveries d
     WHERE d.status IN ('pending', 'retrying', 'delivering')
     ORDER BY d.endpoint_id, d.next_attempt_at
     LIMIT 1)
    UNION ALL
    SELECT nx.endpoint_id, nx.next_attempt_at
    FROM active a
    CROSS JOIN LATERAL (
        SELECT d.endpoint_id, d.next_attempt_at
        FROM deliveries d
        WHERE d.status IN ('pending', 'retrying', 'delivering')
          AND d.endpoint_id > a.endpoint_id
        ORDER BY d.endpoint_id, d.next_attempt_at
        LIMIT 1
    ) nx
),
settling AS MATERIALIZED (
    -- The owner's leases whose attempts have ended, waiting for their
    -- record, found by key: not attempts in flight, so not counted below.
    -- Read in this statement's snapshot, so each is subtracted only while
    -- it is counted.
    SELECT s.endpoint_id, s.tenant_id
    FROM deliveries s
    WHERE s.id = ANY($7) AND s.status = 'delivering' AND s.lease_owner = $3 AND s.lease_expires_at > $1
),
due_eps AS MATERIALIZED (
    -- Enabled, live (not deleted) endpoints with due work.
    SELECT ep.id, ep.tenant_id, ep.max_in_flight, ep.consecutive_failures
    FROM active a
    JOIN endpoints ep ON ep.id = a.endpoint_id
    WHERE ep.enabled AND ` + sqlstore.EndpointLive + ` AND a.next_attempt_at <= $1
),
` + sqlstore.TenantLeases("$1") + `,
room AS MATERIALIZED (
    -- How many more leases each of those endpoints may take: its cap
    -- (sqlstore.InFlightCap) times the owner's factor (sqlstore.LeaseFactor,
    -- store.LeaseCap), less the unexpired leases it holds, but for the
    -- settling ones.
    SELECT id, tenant_id, free
    FROM (
        SELECT ep.id, ep.tenant_id, ` + sqlstore.InFlightCap("$5") + `
              * ` + sqlstore.LeaseFactor("$1", "$3", "$6", "$8", "ep.id = ANY($9)", "tl.n") + ` - (
                SELECT count(*) FROM deliveries l
                WHERE l.endpoint_id = ep.id AND l.status = 'delivering' AND l.lease_expires_at > $1
            ) + coalesce(se.n, 0) AS free
        FROM due_eps ep
        JOIN tenant_leases tl ON tl.tenant_id = ep.tenant_id
        LEFT JOIN (SELECT endpoint_id, count(*) AS n FROM settling GROUP BY endpoint_id) se ON se.endpoint_id = ep.id
    ) r
    WHERE free > 0
),
tenant_room AS MATERIALIZED (
    -- The same for the tenants of those endpoints: their share less the
    -- unexpired leases they hold, but for the settling ones.
    SELECT tl.tenant_id, $6 - tl.n AS free
    FROM tenant_leases tl
    WHERE tl.tenant_id IN (SELECT tenant_id FROM room)
)`

// claimSQL is claimRoomSQL's rooms and the rows they take, leased.
var claimSQL = claimRoomSQL + `,
ranked AS (
    -- Each tenant's candidates in due order, numbered: the turn each takes.
    SELECT c.id, c.next_attempt_at, tenant_room.free AS tenant_free,
        row_number() OVER (PARTITION BY room.tenant_id ORDER BY c.next_attempt_at, c.id) AS turn
    FROM room
    JOIN tenant_room ON tenant_room.tenant_id = room.tenant_id
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at
        FROM deliveries d
        WHERE d.endpoint_id = room.id
          AND d.status IN ('pending', 'retrying', 'delivering')
          AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at, d.id
        LIMIT room.free
    ) c
    WHERE tenant_room.free > 0
),
candidates AS (
    SELECT id, next_attempt_at AS due, turn
    FROM ranked
    WHERE turn <= tenant_free
    ORDER BY turn, next_attempt_at, id
    LIMIT $4
),
picked AS (
    -- Lock only the rows taken. One being recorded or released right now
    -- is skipped, not waited for (the next claim finds it if it is still
    -- due); one changed since this statement began is checked again
    -- against the conditions before it is locked. Each is found by key:
    -- the status is tested IS TRUE, which no partial index's predicate is
    -- proved from, so the plan cannot drive the lock from
    -- deliveries_due_endpoint instead, as it did with statistics taken
    -- while nothing was unfinished (every due row once, the candidates
    -- probed for each: 30 ms a claim instead of 3, docs/design.md).
    SELECT d.id, candidates.due, candidates.turn
    FROM deliveries d
    JOIN candidates ON candidates.id = d.id
    WHERE (d.status IN ('pending', 'retrying', 'delivering')) IS TRUE
      AND d.next_attempt_at <= $1
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE deliveries d
    SET status = 'delivering', lease_owner = $3, lease_expires_at = $2,
        next_attempt_at = $2, updated_at = $1
    FROM picked
    WHERE d.id = picked.id
    RETURNING d.*, picked.due, picked.turn
)
SELECT ` + sqlstore.ClaimedCols + `
FROM claimed d
JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
ORDER BY d.turn, d.due, d.id`

// probeSQL answers whether claimSQL, with the same arguments, would find
// room for anything: an endpoint with due work and room whose tenant has
// room. Its $2 and $4 (the lease expiry and the limit) are typed only, so
// the two statements take the same arguments.
var probeSQL = claimRoomSQL + `
SELECT EXISTS (
    SELECT 1 FROM room JOIN tenant_room ON tenant_room.tenant_id = room.tenant_id
    WHERE tenant_room.free > 0
) AND $2::timestamptz IS NOT NULL AND $4::int IS NOT NULL`

// DeliveryClaimDue leases due deliveries to p.Owner; see store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	probe := func(ctx context.Context, q sqlstore.Querier, now, until time.Time) (bool, error) {
		var room bool
		err := q.QueryRow(ctx, probeSQL, s.claimArgs(p, now, until)...).Scan(&room)
		return room, err
	}
	return s.Claim(ctx, p, probe, func(ctx context.Context, tx sqlstore.Querier, now, until time.Time) ([]*store.Claimed, error) {
		// Claimers take turns (claims take milliseconds): the in-flight count
		// in the query is then exact, where two concurrent claims would each
		// count the other's leases as free room.
		if err := s.db.LockClaims(ctx, tx); err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, claimSQL, s.claimArgs(p, now, until)...)
		return sqlstore.Collect(rows, err, s.ScanClaimed)
	})
}

// claimArgs are claimSQL's and probeSQL's arguments, $1 to $9.
func (s *Store) claimArgs(p *store.DeliveryClaimParams, now, until time.Time) []any {
	return []any{now, until, p.Owner, p.Limit, p.PerEndpoint, store.TenantCap(p.PerTenant), sqlstore.NonNil(p.Settling), max(p.OwnFactor, 1), sqlstore.NonNil(p.Eager)}
}
