package sqlstore

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// RateHorizon is how far ahead claims and hand-offs give out a
// rate-limited endpoint's turns. A delivery whose turn would come later
// is not taken now: it waits in the table, due at its turn, so an endpoint
// limited to one attempt a second holds about one lease, not its whole
// cap, and a changed rate_limit governs every turn given out after it
// within this long.
const RateHorizon = time.Second

// takeTurns gives each of cs whose endpoint has a rate limit its turn
// (Claimed.NotBefore), spacing an endpoint's turns by one over its rate
// from the endpoint's next free turn, which it moves on. It must run inside
// the transaction of the claim or hand-off, after the claim lock: turns are
// then given out one claimer at a time across every node. It returns the
// deliveries to keep, in order, and the turn of each one left out because
// its turn is beyond RateHorizon.
func (s *Store) takeTurns(ctx context.Context, tx Querier, now time.Time, cs []*store.Claimed) ([]*store.Claimed, map[string]time.Time, error) {
	return s.takeTurnsBeyond(ctx, tx, now, cs, false)
}

// takeTurnsBeyond is takeTurns; with anyTurn it keeps every delivery, its
// turn however far ahead (a test send waits for its turn in its request).
func (s *Store) takeTurnsBeyond(ctx context.Context, tx Querier, now time.Time, cs []*store.Claimed, anyTurn bool) ([]*store.Claimed, map[string]time.Time, error) {
	var ids []string
	seen := map[string]bool{}
	for _, c := range cs {
		if ep := c.Endpoint; ep.RateLimit > 0 && !seen[ep.ID] {
			seen[ep.ID] = true
			ids = append(ids, ep.ID)
		}
	}
	if len(ids) == 0 {
		return cs, nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, rate_next_at FROM endpoints WHERE `+s.db.InList("id", 1), ids)
	type turn struct {
		id   string
		next *time.Time
	}
	turns, err := Collect(rows, err, func(r Row) (turn, error) {
		var t turn
		return t, r.Scan(&t.id, &t.next)
	})
	if err != nil {
		return nil, nil, s.Err(err, "read rate limit turns")
	}
	next := map[string]time.Time{}
	for _, t := range turns {
		next[t.id] = now
		if t.next != nil && t.next.After(now) {
			next[t.id] = *t.next
		}
	}
	horizon := now.Add(RateHorizon)
	taken := map[string]time.Time{} // each endpoint's next free turn, as moved on
	kept := cs[:0:0]
	var later map[string]time.Time
	for _, c := range cs {
		ep := c.Endpoint
		if ep.RateLimit <= 0 {
			kept = append(kept, c)
			continue
		}
		at, ok := next[ep.ID]
		if !ok {
			at = now // the endpoint is gone: the claim's own join decides
		}
		step := time.Second / time.Duration(ep.RateLimit)
		if at.After(horizon) && !anyTurn {
			// Due at the turn it would have had; the turn is not taken.
			if later == nil {
				later = map[string]time.Time{}
			}
			later[c.Delivery.ID] = at
			next[ep.ID] = at.Add(step)
			continue
		}
		if at.After(now) {
			c.NotBefore = at
		}
		next[ep.ID] = at.Add(step)
		taken[ep.ID] = next[ep.ID]
		kept = append(kept, c)
	}
	// In key order, as a record batch updates its endpoints' health: two
	// transactions taking two endpoints in opposite orders deadlock.
	for _, id := range slices.Sorted(maps.Keys(taken)) {
		if _, err := tx.Exec(ctx, `UPDATE endpoints SET rate_next_at = $2 WHERE id = $1`, id, store.Timestamp(taken[id])); err != nil {
			return nil, nil, s.Err(err, "move rate limit turns")
		}
	}
	return kept, later, nil
}

// putBack returns claimed deliveries whose turn is beyond the horizon to
// the table, unleased and due at their turn, inside the claim's
// transaction.
func (s *Store) putBack(ctx context.Context, tx Querier, owner string, later map[string]time.Time) error {
	for _, id := range slices.Sorted(maps.Keys(later)) {
		at := later[id]
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET
				status = CASE WHEN series_attempts = 0 THEN 'pending' ELSE 'retrying' END,
				next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL
			WHERE id = $1 AND lease_owner = $2`, id, owner, store.Timestamp(at)); err != nil {
			return s.Err(err, "put back delivery %q for its turn", id)
		}
	}
	return nil
}

// EndpointTakeTurn takes the endpoint's next turn; see store.Store.
func (s *Store) EndpointTakeTurn(ctx context.Context, endpointID string, now time.Time) (time.Time, error) {
	now = store.Timestamp(now)
	var at time.Time
	err := s.db.Tx(ctx, func(tx Querier) error {
		if err := s.db.LockClaims(ctx, tx); err != nil {
			return err
		}
		ep, err := s.scanEndpoint(tx.QueryRow(ctx, `SELECT `+EndpointCols+` FROM endpoints ep WHERE ep.id = $1 AND `+EndpointLive, endpointID))
		if err != nil {
			return notFound(err, "endpoint %q", endpointID)
		}
		kept, _, err := s.takeTurnsBeyond(ctx, tx, now, []*store.Claimed{{Endpoint: ep, Delivery: &store.Delivery{}}}, true)
		if err != nil {
			return err
		}
		at = kept[0].NotBefore
		return nil
	})
	if err != nil {
		return time.Time{}, s.Err(err, "take a turn of endpoint %q", endpointID)
	}
	return at, nil
}
