package sqlstore

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// healthWindow is how far back an endpoint's attempt counts go: the hourly
// buckets of the hours that began after this long ago.
const healthWindow = 24 * time.Hour

// recorded is one attempt of a batch that was stored, as the endpoint's
// health sees it.
type recorded struct {
	i        int // its index in the batch
	endpoint string
	ok       bool
	code     int
	started  time.Time
}

// healthCols are the columns of a batch's endpoint health updates.
var healthCols = []Col{
	{"endpoint_id", ColText}, {"reset", ColInt}, {"tail", ColInt}, {"streak_start", ColTime},
	{"last_at", ColTime}, {"last_code", ColInt},
}

// bucketCols are the columns of a batch's hourly counts.
var bucketCols = []Col{{"endpoint_id", ColText}, {"hour", ColTime}, {"succeeded", ColInt}, {"failed", ColInt}}

// disableCols are the columns of a batch's endpoints to disable.
var disableCols = []Col{{"endpoint_id", ColText}, {"reason", ColText}, {"at", ColTime}}

// endpointTally is what a batch's attempts say of one endpoint.
type endpointTally struct {
	reset       bool      // an attempt succeeded: the streak starts again after it
	tail        int       // failures after the batch's last success (or all of them)
	streakStart time.Time // when the first of tail started
	last        recorded  // the latest attempt
	gone        *recorded // an attempt answered 410
}

// recordHealth updates, in the transaction that recorded the batch's
// attempts, the health of their endpoints (one statement), their hourly
// counts (one statement), and disables the enabled ones that answered
// 410 or whose failing streak is now older than their attempt's
// DisableAfter (one statement, when there are any). It returns, by
// index in the batch, the attempts that disabled an endpoint. Endpoints
// are updated in id order, so two batches lock them in the same order.
func (s *Store) recordHealth(ctx context.Context, tx Querier, ps []*store.AttemptRecordParams, recs []recorded, now time.Time) (map[int]*store.EndpointDisabled, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(recs, func(a, b recorded) int {
		return cmp.Or(cmp.Compare(a.endpoint, b.endpoint), a.started.Compare(b.started))
	})
	tallies := map[string]*endpointTally{}
	type bucketKey struct {
		endpoint string
		hour     time.Time
	}
	buckets := map[bucketKey]*[2]int{}
	var ids []string
	for _, r := range recs {
		t := tallies[r.endpoint]
		if t == nil {
			t = &endpointTally{}
			tallies[r.endpoint] = t
			ids = append(ids, r.endpoint)
		}
		t.last = r
		k := bucketKey{r.endpoint, r.started.Truncate(time.Hour)}
		b := buckets[k]
		if b == nil {
			b = &[2]int{}
			buckets[k] = b
		}
		if r.ok {
			t.reset, t.tail = true, 0
			b[0]++
			continue
		}
		b[1]++
		if t.tail == 0 {
			t.streakStart = r.started
		}
		t.tail++
		if r.code == http.StatusGone && t.gone == nil {
			r := r
			t.gone = &r
		}
	}
	var rows Table
	for _, id := range ids {
		t := tallies[id]
		var start *time.Time
		if t.tail > 0 {
			start = &t.streakStart
		}
		reset := 0
		if t.reset {
			reset = 1
		}
		rows = append(rows, []any{id, reset, t.tail, start, t.last.started, t.last.code})
	}
	// The rows are locked in key order first (ids is sorted, as recs
	// are), as takeTurns moves a claim's turns: the UPDATE ... FROM below
	// locks them in its plan's order, and against a claim or hand-off
	// taking turns at two of the same endpoints the two deadlocked,
	// PostgreSQL telling only after its deadlock_timeout, a second in
	// which both waited (docs/design.md). It goes out with the UPDATE.
	if err := s.db.Defer(ctx, tx, `SELECT id FROM endpoints WHERE `+s.db.InList("id", 1)+` ORDER BY id`+s.db.LockClause(LockNoKeyUpdate), ids); err != nil {
		return nil, err
	}
	r, err := tx.Query(ctx, `
		UPDATE endpoints AS ep SET
			consecutive_failures = CASE WHEN h.reset = 1 THEN h.tail ELSE ep.consecutive_failures + h.tail END,
			failing_since = CASE
				WHEN h.tail = 0 THEN NULL
				WHEN h.reset = 0 AND ep.failing_since IS NOT NULL THEN ep.failing_since
				ELSE h.streak_start END,
			last_attempt_at = CASE WHEN ep.last_attempt_at > h.last_at THEN ep.last_attempt_at ELSE h.last_at END,
			last_response_code = CASE WHEN ep.last_attempt_at > h.last_at THEN ep.last_response_code ELSE h.last_code END
		FROM `+s.db.Rows(1, "h", healthCols...)+`
		WHERE ep.id = h.endpoint_id
		RETURNING id, enabled, failing_since`, rows)
	type state struct {
		id      string
		enabled bool
		since   *time.Time
	}
	states, err := Collect(r, err, func(r Row) (state, error) {
		var v state
		return v, r.Scan(&v.id, &v.enabled, &v.since)
	})
	if err != nil {
		return nil, err
	}

	var counts Table
	for k, b := range buckets {
		counts = append(counts, []any{k.endpoint, k.hour, b[0], b[1]})
	}
	// WHERE true: SQLite needs it to read ON CONFLICT after a SELECT.
	if _, err := tx.Exec(ctx, `
		INSERT INTO endpoint_health (endpoint_id, hour, succeeded, failed)
		SELECT b.endpoint_id, b.hour, b.succeeded, b.failed FROM `+s.db.Rows(1, "b", bucketCols...)+` WHERE true
		ON CONFLICT (endpoint_id, hour) DO UPDATE SET
			succeeded = endpoint_health.succeeded + excluded.succeeded,
			failed = endpoint_health.failed + excluded.failed`, counts); err != nil {
		return nil, err
	}
	if err := s.pruneHealth(ctx, tx, now); err != nil {
		return nil, err
	}

	// What disables an endpoint, decided here, in the transaction that
	// holds its row, so it happens once whichever node records.
	cause := map[string]recorded{}
	var off Table
	for _, st := range states {
		t := tallies[st.id]
		if !st.enabled {
			continue
		}
		switch {
		case t.gone != nil:
			cause[st.id] = *t.gone
			off = append(off, []any{st.id, store.DisabledGone, now})
		case t.tail > 0 && st.since != nil && failingTooLong(ps[t.last.i].DisableAfter, *st.since, now):
			cause[st.id] = t.last
			off = append(off, []any{st.id, store.DisabledFailing, now})
		}
	}
	if len(off) == 0 {
		return nil, nil
	}
	r, err = tx.Query(ctx, `
		UPDATE endpoints AS ep SET enabled = false, disabled_reason = o.reason, disabled_at = o.at
		FROM `+s.db.Rows(1, "o", disableCols...)+`
		WHERE ep.id = o.endpoint_id AND ep.enabled
		RETURNING `+returning(EndpointCols), off)
	disabled, err := Collect(r, err, s.scanEndpoint)
	if err != nil {
		return nil, err
	}
	out := make(map[int]*store.EndpointDisabled, len(disabled))
	for _, ep := range disabled {
		c := cause[ep.ID]
		out[c.i] = &store.EndpointDisabled{
			Endpoint: ep, Reason: ep.DisabledReason, At: now, ResponseCode: c.code, TraceID: ps[c.i].TraceID,
		}
	}
	return out, nil
}

// failingTooLong reports whether a streak failing since since has, at now,
// lasted longer than after; an after of 0 never has.
func failingTooLong(after time.Duration, since, now time.Time) bool {
	return after > 0 && now.Sub(since) > after
}

// pruneHealth deletes the hourly counts older than the window, at most
// once an hour on each node: they are never read again.
func (s *Store) pruneHealth(ctx context.Context, tx Querier, now time.Time) error {
	hour := now.Truncate(time.Hour).Unix()
	if last := s.healthPruned.Load(); last >= hour {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM endpoint_health WHERE hour <= $1`, now.Add(-healthWindow-time.Hour)); err != nil {
		return err
	}
	s.healthPruned.Store(hour)
	return nil
}
