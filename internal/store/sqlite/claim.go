package sqlite

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// claimRoomSQL reads how many more leases each endpoint with due work may
// take, and its tenant. ?1 now, ?2 per-endpoint cap, ?3 per-tenant share,
// ?4 owner, ?5 the owner's settling deliveries, ?6 the owner's factor of
// the cap (store.LeaseCap), ?7 the endpoints it applies to
// (store.DeliveryClaimParams.Eager). It answers, for each
// endpoint with room whose tenant has room, the endpoint, its tenant, the
// endpoint's room n and the tenant's tn. claimDueSQL then reads each one's
// first due rows and pick ranks them (DeliveryClaimDue).
//
// Claim at most cap-inflight per endpoint: a worker that claimed ten
// deliveries for one dead endpoint would sit on all ten until the timeout,
// while healthy endpoints waited behind it. And pick within each endpoint
// before ordering and limiting over all of them: a plain ORDER BY
// next_attempt_at LIMIT n over every due row would return the same rows of
// one backlogged, capped endpoint on every claim and never reach anyone
// else's. Tenants take their turns the same way: no more leases for a
// tenant than its share leaves, and the claim's limit goes round the
// tenants with due work (each one's first, then each one's second, ...),
// so one tenant's backlog of many endpoints cannot take every claim. The
// writer's IMMEDIATE transaction makes the in-flight counts exact and keeps
// two claimers from picking the same rows.
var claimRoomSQL = `
WITH settling AS MATERIALIZED (
    -- The owner's ($4) leases whose attempts have ended, waiting for their
    -- record ($5, store.DeliveryClaimParams.Settling): not attempts in
    -- flight, so not counted below.
    SELECT s.endpoint_id, s.tenant_id
    FROM deliveries s
    WHERE s.id IN (SELECT value FROM json_each($5)) AND s.status = 'delivering'
      AND s.lease_owner = $4 AND s.lease_expires_at > $1
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
        ` + sqlstore.InFlightCap("$2") + `
          * ` + sqlstore.LeaseFactor("$1", "$4", "$3", "$6", "ep.id IN (SELECT value FROM json_each($7))", "tl.n") + `
          - (SELECT count(*) FROM deliveries l
              WHERE l.endpoint_id = ep.id AND l.status = 'delivering' AND l.lease_expires_at > $1)
          + (SELECT count(*) FROM settling s WHERE s.endpoint_id = ep.id) AS n
    FROM due_eps ep
    JOIN tenant_leases tl ON tl.tenant_id = ep.tenant_id
),
tenant_room AS MATERIALIZED (
    -- The same for the tenants of those endpoints: their share less the
    -- unexpired leases they hold, but for the settling ones.
    SELECT tl.tenant_id, $3 - tl.n AS tn
    FROM tenant_leases tl
    WHERE tl.tenant_id IN (SELECT tenant_id FROM room WHERE n > 0)
),
room_n AS (
    -- Each endpoint's room beside its tenant's, those with both only.
    SELECT r.endpoint_id, r.tenant_id, r.n, tr.tn
    FROM room r
    JOIN tenant_room tr ON tr.tenant_id = r.tenant_id
    WHERE r.n > 0 AND tr.tn > 0
)
SELECT endpoint_id, tenant_id, n, tn FROM room_n`

// claimDueSQL reads an endpoint's ($1) first due rows ($2 now), at most
// $3, from the (endpoint, due) index: a backlog of thousands at one
// endpoint costs a probe, not a scan.
const claimDueSQL = `
SELECT id, next_attempt_at FROM deliveries
WHERE endpoint_id = $1 AND status IN ('pending', 'retrying', 'delivering')
  AND next_attempt_at <= $2
ORDER BY next_attempt_at, id
LIMIT $3`

// roomRow is one row of claimRoomSQL.
type roomRow struct {
	endpoint, tenant string
	n, tn            int
}

// candidate is a due delivery that claimDueSQL read.
type candidate struct {
	id     string
	due    int64 // next_attempt_at as stored
	tenant string
	turn   int // its place in its tenant's due order, from 1
}

// pick chooses what to lease from the rooms and the candidates read for
// them, at most limit: each tenant's candidates in due order (due, then
// id) take turns 1, 2, ... up to the tenant's room, and the claim goes
// round the tenants by turn, oldest due first within a turn. This was one
// SQL statement, its window functions and sorts over every endpoint's
// cap*factor first rows most of a claim's time (docs/design.md).
func pick(cands []candidate, tenantRoom map[string]int, limit int) []string {
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(strings.Compare(a.tenant, b.tenant), cmp.Compare(a.due, b.due), strings.Compare(a.id, b.id))
	})
	kept := make([]candidate, 0, len(cands))
	turn, tenant := 0, ""
	for _, c := range cands {
		if c.tenant != tenant {
			tenant, turn = c.tenant, 0
		}
		turn++
		if turn <= tenantRoom[c.tenant] {
			c.turn = turn
			kept = append(kept, c)
		}
	}
	slices.SortFunc(kept, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.turn, b.turn), cmp.Compare(a.due, b.due), strings.Compare(a.id, b.id))
	})
	ids := make([]string, 0, min(len(kept), limit))
	for _, c := range kept[:min(len(kept), limit)] {
		ids = append(ids, c.id)
	}
	return ids
}

// DeliveryClaimDue leases due deliveries to p.Owner; see store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	rooms := func(ctx context.Context, q sqlstore.Querier, now time.Time) ([]roomRow, error) {
		rows, err := q.Query(ctx, claimRoomSQL, now, p.PerEndpoint, store.TenantCap(p.PerTenant), p.Owner, p.Settling, max(p.OwnFactor, 1), p.Eager)
		return sqlstore.Collect(rows, err, func(r sqlstore.Row) (roomRow, error) {
			var v roomRow
			return v, r.Scan(&v.endpoint, &v.tenant, &v.n, &v.tn)
		})
	}
	// The probe reads the rooms on a reader, beside the writer.
	probe := func(ctx context.Context, q sqlstore.Querier, now, _ time.Time) (bool, error) {
		rs, err := rooms(ctx, q, now)
		return len(rs) > 0, err
	}
	return s.Claim(ctx, p, probe, func(ctx context.Context, tx sqlstore.Querier, now, until time.Time) ([]*store.Claimed, error) {
		rooms, err := rooms(ctx, tx, now)
		if err != nil || len(rooms) == 0 {
			return nil, err
		}
		// An endpoint's rows past its tenant's room or the limit would
		// take a later turn than all of those before them: not read.
		var cands []candidate
		tenantRoom := make(map[string]int, len(rooms))
		for _, r := range rooms {
			tenantRoom[r.tenant] = r.tn
			rows, err := tx.Query(ctx, claimDueSQL, r.endpoint, now, min(r.n, r.tn, p.Limit))
			cs, err := sqlstore.Collect(rows, err, func(row sqlstore.Row) (candidate, error) {
				c := candidate{tenant: r.tenant}
				return c, row.Scan(&c.id, &c.due)
			})
			if err != nil {
				return nil, err
			}
			cands = append(cands, cs...)
		}
		ids := pick(cands, tenantRoom, p.Limit)
		if len(ids) == 0 {
			return nil, nil
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
		rows, err := tx.Query(ctx, `
			SELECT `+sqlstore.ClaimedCols+`
			FROM deliveries d
			JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
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
