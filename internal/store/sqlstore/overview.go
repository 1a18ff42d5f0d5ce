package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// finished is the condition of the deliveries_finished index (migration
// 13), word for word: SQLite uses a partial index only for a query whose
// WHERE clause has its terms.
const finished = `d.status IN ('delivered', 'failed')`

// windowCols are the columns of DeliveryFinishedCounts' windows.
var windowCols = []Col{{"i", ColInt}, {"since", ColTime}, {"until", ColTime}}

// DeliveryFinishedCounts counts the deliveries that finished in each
// window: one statement, two range counts of deliveries_finished per
// window, so the database reads the index entries of the windows and
// nothing else, and no row leaves it.
func (s *Store) DeliveryFinishedCounts(ctx context.Context, ws []store.Window) ([]store.FinishedCount, error) {
	if len(ws) > store.MaxFinishedWindows {
		return nil, fmt.Errorf("count finished deliveries: %d windows, at most %d", len(ws), store.MaxFinishedWindows)
	}
	out := make([]store.FinishedCount, len(ws))
	if len(ws) == 0 {
		return out, nil
	}
	rows := make(Table, len(ws))
	for i, w := range ws {
		rows[i] = []any{i, store.Timestamp(w.Since), store.Timestamp(w.Until)}
	}
	count := func(status string) string {
		return `(SELECT count(*) FROM deliveries d WHERE ` + finished + ` AND d.status = '` + status + `'
			AND d.updated_at >= w.since AND d.updated_at < w.until)`
	}
	// No ORDER BY: each row says its window, and a sort would be the
	// statement's only one.
	r, err := s.read.Query(ctx, `SELECT w.i, `+count(store.StatusDelivered)+`, `+count(store.StatusFailed)+`
		FROM `+s.db.Rows(1, "w", windowCols...), rows)
	type counted struct {
		i int
		c store.FinishedCount
	}
	got, err := Collect(r, err, func(r Row) (counted, error) {
		var v counted
		return v, r.Scan(&v.i, &v.c.Delivered, &v.c.Failed)
	})
	if err != nil {
		return nil, s.Err(err, "count finished deliveries")
	}
	for _, g := range got {
		if g.i < 0 || g.i >= len(out) {
			return nil, fmt.Errorf("count finished deliveries: the database answered for window %d of %d", g.i, len(out))
		}
		out[g.i] = g.c
	}
	return out, nil
}

// DeliveryLatencies reads the latest deliveries delivered since since, on
// deliveries_finished backwards, each with its event's creation time by
// the events' primary key.
func (s *Store) DeliveryLatencies(ctx context.Context, since time.Time, limit int) ([]time.Duration, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("delivery latencies: limit %d, want at least 1", limit)
	}
	out, err := listRows(ctx, s, func(r Row) (time.Duration, error) {
		var delivered, created time.Time
		if err := r.Scan(&delivered, &created); err != nil {
			return 0, err
		}
		return delivered.Sub(created), nil
	}, "delivery latencies", `
		SELECT d.updated_at, e.created_at
		FROM deliveries d `+s.db.IndexHint("deliveries_finished")+`
		JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
		WHERE `+finished+` AND d.status = 'delivered' AND d.updated_at >= $1
		ORDER BY d.updated_at DESC
		LIMIT $2`, store.Timestamp(since), limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EndpointListDisabled lists the live disabled endpoints on their partial
// index (endpoints_disabled, in id order), whose condition the query
// spells as Stats does.
func (s *Store) EndpointListDisabled(ctx context.Context, limit int) ([]*store.Endpoint, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list disabled endpoints: limit %d, want at least 1", limit)
	}
	return listRows(ctx, s, s.scanEndpoint, "disabled endpoints",
		`SELECT `+EndpointCols+` FROM endpoints ep WHERE NOT enabled AND `+EndpointLive+` ORDER BY ep.id LIMIT $1`, limit)
}
